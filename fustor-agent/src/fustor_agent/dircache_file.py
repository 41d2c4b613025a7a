"""A pipe's directory cache on disk, so a restarted agent resumes with an audit, not a snapshot.

The leader saves the cache each time a scan ended and Fusion acknowledged the end: it then says
which directories Fusion's view holds as listed, at which mtime. With it go the id of that view
(and the journal ``seq`` Fusion answered at the end), the source's URI, the time, and the modes'
small states (the deep audit's progress). One file per pipe, replaced atomically: written to a
temporary file in the same directory, flushed to disk, renamed over the old one — a crash leaves
the old file or the new one, never half of either.

Format (version 1), chosen to be small and quick for large trees (100,000 directories: about
1.5 MB, written or read in a few hundred milliseconds; see the agent's README)::

    fustor-dircache 1\\n
    {"view_id": ..., "view_seq": ..., "source_uri": ..., "saved_at": ..., "entries": N,
     "payload_bytes": ..., "payload_crc32": ..., ...}\\n          (the header: one JSON line)
    zlib(level 1) of JSON {"entries": {path: value}, "modes": {mode: state}}

The header is readable alone (the status shows the cache's view and age without loading it).
Anything that does not check out — another format, a wrong length or checksum, bad JSON — raises
:class:`CacheUnreadable`; the pipe logs it and starts with a snapshot, which then replaces the file.
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

MAGIC = b"fustor-dircache 1\n"
COMPRESSION_LEVEL = 1
"""zlib level 1: nearly the size of level 6 on these paths, at a fraction of its time."""
MAX_HEADER_BYTES = 64 * 1024


class CacheUnreadable(Exception):
    """The cache file exists but cannot be used (the message says why)."""


@dataclass(slots=True)
class SavedListing:
    """What a pipe's cache file holds: the directory cache and what it is valid for."""

    view_id: str
    """The view whose listing the cache describes (Fusion's ``view.id``)."""
    view_seq: int | None
    """Fusion's journal ``seq`` at the end of the scan that completed the cache (None: unknown)."""
    source_uri: str
    """The source the cache was made from: another URI (the export mounted elsewhere, another
    path) means another tree, whatever the view."""
    saved_at: float
    """The agent's wall-clock time of the save."""
    entries: dict[str, Any]
    """The directory cache (:data:`~fustor_core.agent_api.DirCache`), path -> the source's value."""
    modes: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each mode's :attr:`~fustor_core.agent_api.SyncContext.mode_state`."""
    scan: str = ""
    """The mode whose scan completed the cache (``snapshot`` or ``audit``)."""

    def header(self) -> dict[str, Any]:
        return {
            "view_id": self.view_id,
            "view_seq": self.view_seq,
            "source_uri": self.source_uri,
            "saved_at": self.saved_at,
            "scan": self.scan,
            "entries": len(self.entries),
        }


@dataclass(frozen=True, slots=True)
class FileReport:
    """What one save or load cost."""

    bytes: int
    seconds: float
    entries: int


class DirCacheFile:
    """One pipe's cache file (its directory is created on the first save)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    # -- saving --------------------------------------------------------------------------------

    def save(self, listing: SavedListing) -> FileReport:
        """Write ``listing`` atomically (blocking: call it in a worker thread).

        Raises ``OSError`` (disk full, permissions) or ``orjson.JSONEncodeError`` (a value that
        is not JSON, e.g. a path with a lone surrogate); the old file then stays as it was.
        """
        started = time.perf_counter()
        payload = zlib.compress(
            orjson.dumps({"entries": listing.entries, "modes": listing.modes}), COMPRESSION_LEVEL
        )
        header = {
            **listing.header(),
            "payload_bytes": len(payload),
            "payload_crc32": zlib.crc32(payload),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(MAGIC)
                out.write(orjson.dumps(header))
                out.write(b"\n")
                out.write(payload)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with suppress(OSError):
                os.unlink(temporary)
            raise
        _fsync_directory(self.path.parent)
        size = len(MAGIC) + len(payload) + len(orjson.dumps(header)) + 1
        return FileReport(size, time.perf_counter() - started, len(listing.entries))

    # -- loading -------------------------------------------------------------------------------

    def header(self) -> dict[str, Any] | None:
        """The header alone (None when there is no file); raises :class:`CacheUnreadable`."""
        try:
            with self.path.open("rb") as stream:
                return _read_header(stream.read(len(MAGIC) + MAX_HEADER_BYTES))[0]
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CacheUnreadable(f"cannot read {self.path}: {exc}") from exc

    def load(self) -> tuple[SavedListing, FileReport] | None:
        """The saved listing (None when there is no file); raises :class:`CacheUnreadable`.

        Blocking: call it in a worker thread.
        """
        started = time.perf_counter()
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CacheUnreadable(f"cannot read {self.path}: {exc}") from exc
        header, offset = _read_header(data)
        payload = memoryview(data)[offset:]
        if len(payload) != header.get("payload_bytes") or zlib.crc32(payload) != header.get("payload_crc32"):
            raise CacheUnreadable("the file is truncated or damaged (length or checksum differs)")
        try:
            with _collector_paused():  # the load makes a container per entry: no GC pass per thousand
                body = orjson.loads(zlib.decompress(payload))
        except (zlib.error, orjson.JSONDecodeError, MemoryError) as exc:
            raise CacheUnreadable(f"the cache cannot be decoded: {exc}") from exc
        if not isinstance(body, dict):
            raise CacheUnreadable("the cache holds no entries")
        entries, modes = body.get("entries"), body.get("modes", {})
        if not isinstance(entries, dict) or not isinstance(modes, dict):
            raise CacheUnreadable("the cache holds no entries")
        try:
            listing = SavedListing(
                view_id=_typed(header, "view_id", str),
                view_seq=_typed(header, "view_seq", int, optional=True),
                source_uri=_typed(header, "source_uri", str),
                saved_at=float(_typed(header, "saved_at", (int, float))),
                entries=entries,
                modes={name: state for name, state in modes.items() if isinstance(state, dict)},
                scan=str(header.get("scan") or ""),
            )
        except (TypeError, ValueError) as exc:
            raise CacheUnreadable(f"the header is malformed: {exc}") from exc
        return listing, FileReport(len(data), time.perf_counter() - started, len(entries))


def _read_header(data: bytes) -> tuple[dict[str, Any], int]:
    if not data.startswith(MAGIC):
        raise CacheUnreadable("not a directory cache of this version (unknown first line)")
    end = data.find(b"\n", len(MAGIC))
    if end < 0:
        raise CacheUnreadable("the header is truncated")
    try:
        header = orjson.loads(data[len(MAGIC) : end])
    except orjson.JSONDecodeError as exc:
        raise CacheUnreadable(f"the header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise CacheUnreadable("the header is not a JSON object")
    return header, end + 1


def _typed(header: dict[str, Any], key: str, kind: Any, *, optional: bool = False) -> Any:
    value = header.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{key} is {value!r}")
    return value


@contextmanager
def _collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (best effort: not every platform opens directories)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
