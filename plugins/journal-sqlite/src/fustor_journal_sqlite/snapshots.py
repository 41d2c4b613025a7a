"""Snapshot files: one file per snapshot, written aside and renamed into place when complete.

A snapshot is large (tens of MB for millions of files) and written rarely, so it lives in a plain
file next to the SQLite database rather than in it: written once (no WAL copy, no checkpoint),
read back sequentially at start, deleted with one ``unlink`` (no free pages left in the
database). Layout of ``<seq>.snap``::

    b"FUSTSNAP" | u32 header length | header (JSON: view_id, seq, time)
    then per chunk:  u32 length | u32 crc32 | chunk bytes
    then the end:    u32 0xFFFFFFFF | u32 number of chunks

The file is written as ``.tmp-<seq>``, fsynced, renamed and its directory fsynced, so a crash
leaves either no snapshot or a complete one; a file cut short or altered later fails its checks
when loaded (:class:`~fustor_core.journal.JournalCorrupt`).
"""

from __future__ import annotations

import json
import os
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from fustor_core.journal import JournalCorrupt, SnapshotInfo

MAGIC = b"FUSTSNAP"
FRAME = struct.Struct("<II")
END = 0xFFFFFFFF
SUFFIX = ".snap"
TMP_PREFIX = ".tmp-"


def snapshot_name(seq: int) -> str:
    return f"{seq:020d}{SUFFIX}"


class SnapshotFiles:
    """The snapshot files of one view, in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def prepare(self) -> None:
        """Create the directory and remove files of snapshots a crash left unfinished."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for leftover in self.directory.glob(TMP_PREFIX + "*"):
            leftover.unlink(missing_ok=True)

    def list(self) -> list[SnapshotInfo]:
        """Complete snapshots, newest first (by sequence number)."""
        found: list[SnapshotInfo] = []
        for path in self.directory.glob("*" + SUFFIX):
            stem = path.name[: -len(SUFFIX)]
            if not stem.isdigit():
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:  # trimmed meanwhile
                continue
            found.append(SnapshotInfo(seq=int(stem), time=stat.st_mtime, size=stat.st_size))
        found.sort(key=lambda info: info.seq, reverse=True)
        return found

    def write(self, view_id: str, seq: int, chunks: Iterable[bytes]) -> SnapshotInfo:
        """Write a complete snapshot file durably; visible under its final name only when done."""
        final = self.directory / snapshot_name(seq)
        tmp = self.directory / f"{TMP_PREFIX}{seq}-{os.getpid()}"
        written = time.time()
        header = json.dumps({"view_id": view_id, "seq": seq, "time": written}).encode()
        try:
            with open(tmp, "wb") as out:
                out.write(MAGIC + struct.pack("<I", len(header)) + header)
                count = 0
                for chunk in chunks:
                    out.write(FRAME.pack(len(chunk), zlib.crc32(chunk)))
                    out.write(chunk)
                    count += 1
                out.write(FRAME.pack(END, count))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.directory)
        return SnapshotInfo(seq=seq, time=written, size=final.stat().st_size)

    def read(self, view_id: str, seq: int) -> Iterator[bytes]:
        """The chunks of snapshot ``seq``, each checked; JournalCorrupt on any mismatch."""
        path = self.directory / snapshot_name(seq)
        try:
            source = open(path, "rb")  # noqa: SIM115 - closed by the generator below
        except OSError as exc:
            raise JournalCorrupt(f"snapshot {seq}: cannot open {path}: {exc.strerror or exc}") from None
        return _chunks(source, path, view_id, seq)

    def remove(self, seq: int) -> None:
        (self.directory / snapshot_name(seq)).unlink(missing_ok=True)

    def remove_all(self) -> None:
        for info in self.list():
            self.remove(info.seq)


def _chunks(source: BinaryIO, path: Path, view_id: str, seq: int) -> Iterator[bytes]:
    with source:
        head = source.read(len(MAGIC) + 4)
        if len(head) < len(MAGIC) + 4 or head[: len(MAGIC)] != MAGIC:
            raise JournalCorrupt(f"snapshot {seq}: {path.name} is not a snapshot file")
        (header_len,) = struct.unpack("<I", head[len(MAGIC) :])
        try:
            header = json.loads(_exactly(source, header_len, path))
        except ValueError:
            raise JournalCorrupt(f"snapshot {seq}: {path.name} has an unreadable header") from None
        if header.get("view_id") != view_id or header.get("seq") != seq:
            raise JournalCorrupt(f"snapshot {seq}: {path.name} belongs to another incarnation of the view")
        count = 0
        while True:
            length, crc = FRAME.unpack(_exactly(source, FRAME.size, path))
            if length == END:
                if crc != count:
                    raise JournalCorrupt(f"snapshot {seq}: {path.name} ends after {count} of {crc} chunks")
                if source.read(1):
                    raise JournalCorrupt(f"snapshot {seq}: {path.name} has data after its end")
                return
            chunk = _exactly(source, length, path)
            if zlib.crc32(chunk) != crc:
                raise JournalCorrupt(f"snapshot {seq}: chunk {count} of {path.name} fails its checksum")
            count += 1
            yield chunk


def _exactly(source: BinaryIO, n: int, path: Path) -> bytes:
    data = source.read(n)
    if len(data) != n:
        raise JournalCorrupt(f"snapshot file {path.name} is truncated")
    return data


def _fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
