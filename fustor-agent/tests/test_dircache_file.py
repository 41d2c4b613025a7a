"""The directory cache on disk: round trip, atomic replacement, and every kind of damage refused."""

from __future__ import annotations

import gc
import os
import zlib
from pathlib import Path

import orjson
import pytest

from fustor_agent.dircache_file import MAGIC, CacheUnreadable, DirCacheFile, SavedListing


def listing(**changes: object) -> SavedListing:
    base = SavedListing(
        view_id="v-1",
        view_seq=42,
        source_uri="fs:///mnt/export",
        saved_at=1_700_000_000.5,
        entries={
            "/": (1_700_000_000.123456789, ("a", "b")),
            "/a": (1_699_999_999.000001, ()),
            "/b": (1.0, ("é",)),
        },
        modes={"audit": {"deep": {"next_slice": 3}}},
        scan="audit",
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def test_a_saved_listing_loads_back_with_exact_mtimes(tmp_path: Path) -> None:
    file = DirCacheFile(tmp_path / "state" / "demo" / "dircache")  # directories made on save
    report = file.save(listing())
    assert report.entries == 3 and report.bytes == file.path.stat().st_size
    loaded = file.load()
    assert loaded is not None
    saved, load_report = loaded
    assert (saved.view_id, saved.view_seq, saved.source_uri, saved.saved_at, saved.scan) == (
        "v-1",
        42,
        "fs:///mnt/export",
        1_700_000_000.5,
        "audit",
    )
    # tuples come back as lists; floats exactly (the audit compares mtimes with ==)
    assert saved.entries == {
        "/": [1_700_000_000.123456789, ["a", "b"]],
        "/a": [1_699_999_999.000001, []],
        "/b": [1.0, ["é"]],
    }
    assert saved.entries["/"][0] == 1_700_000_000.123456789
    assert saved.modes == {"audit": {"deep": {"next_slice": 3}}}
    assert load_report.entries == 3
    assert file.header() == {**saved.header(), **_payload_fields(file)}


def _payload_fields(file: DirCacheFile) -> dict[str, int]:
    header = file.header()
    assert header is not None
    return {"payload_bytes": header["payload_bytes"], "payload_crc32": header["payload_crc32"]}


def test_no_file_is_none_not_an_error(tmp_path: Path) -> None:
    file = DirCacheFile(tmp_path / "dircache")
    assert file.load() is None and file.header() is None


def test_a_save_replaces_the_file_atomically_and_leaves_no_temporary(tmp_path: Path) -> None:
    file = DirCacheFile(tmp_path / "dircache")
    file.save(listing())
    inode = file.path.stat().st_ino
    file.save(listing(view_id="v-2"))
    assert file.path.stat().st_ino != inode  # a new file renamed over the old one, not rewritten
    assert os.listdir(tmp_path) == ["dircache"]
    loaded = file.load()
    assert loaded is not None and loaded[0].view_id == "v-2"


def test_a_failed_save_keeps_the_old_file(tmp_path: Path) -> None:
    file = DirCacheFile(tmp_path / "dircache")
    file.save(listing())
    with pytest.raises(orjson.JSONEncodeError):  # a name that is not UTF-8 cannot be written
        file.save(listing(view_id="v-2", entries={"/bad\udcff": (1.0, ())}))
    assert os.listdir(tmp_path) == ["dircache"]
    loaded = file.load()
    assert loaded is not None and loaded[0].view_id == "v-1"


def _damaged(tmp_path: Path, damage: str) -> DirCacheFile:
    file = DirCacheFile(tmp_path / "dircache")
    file.save(listing())
    data = file.path.read_bytes()
    header_end = data.index(b"\n", len(MAGIC)) + 1
    header = orjson.loads(data[len(MAGIC) : header_end - 1])
    payload = data[header_end:]
    if damage == "truncated":
        data = data[:-5]
    elif damage == "flipped":
        middle = header_end + len(payload) // 2
        data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
    elif damage == "empty":
        data = b""
    elif damage == "other-format":
        data = b"fustor-dircache 99\n" + data[len(MAGIC) :]
    elif damage == "header-garbage":
        data = MAGIC + b"{not json\n" + payload
    elif damage == "header-cut":
        data = MAGIC + b'{"view_id": "v-1"'
    elif damage == "header-fields":
        bad = {**header, "view_id": 7}
        data = MAGIC + orjson.dumps(bad) + b"\n" + payload
    elif damage == "payload-not-zlib":
        junk = b"not zlib at all"
        fixed = {**header, "payload_bytes": len(junk), "payload_crc32": zlib.crc32(junk)}
        data = MAGIC + orjson.dumps(fixed) + b"\n" + junk
    elif damage == "payload-no-entries":
        body = zlib.compress(orjson.dumps({"entries": [1, 2]}))
        fixed = {**header, "payload_bytes": len(body), "payload_crc32": zlib.crc32(body)}
        data = MAGIC + orjson.dumps(fixed) + b"\n" + body
    file.path.write_bytes(data)
    return file


@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "flipped",
        "empty",
        "other-format",
        "header-garbage",
        "header-cut",
        "header-fields",
        "payload-not-zlib",
        "payload-no-entries",
    ],
)
def test_a_damaged_file_is_refused_with_a_reason(tmp_path: Path, damage: str) -> None:
    file = _damaged(tmp_path, damage)
    with pytest.raises(CacheUnreadable) as refused:
        file.load()
    assert str(refused.value)
    assert gc.isenabled()  # the collector, paused while decoding, is back on


def test_an_unreadable_file_is_refused_not_raised_as_oserror(tmp_path: Path) -> None:
    (tmp_path / "dircache").mkdir()  # a directory where the file should be
    with pytest.raises(CacheUnreadable):
        DirCacheFile(tmp_path / "dircache").load()
