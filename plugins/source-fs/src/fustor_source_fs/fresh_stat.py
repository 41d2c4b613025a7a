"""``stat`` that asks the server, not the client's attribute cache (for ``fresh=true`` relistings).

An NFS client answers ``stat`` from its attribute cache for up to ``acregmax`` seconds (FUSE: its
``attr_timeout``), so a file another host rewrote a moment ago still shows its old size. A
relisting made as proof for a waiting query must not: ``statx`` with ``AT_STATX_FORCE_SYNC``
makes NFS and FUSE fetch the attributes from the server. Python's ``os.stat`` cannot pass that
flag, hence this small ``ctypes`` call (glibc ≥ 2.28); where it is missing, plain ``os.stat`` is
used and the attribute cache may answer.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass
from typing import Any

AT_SYMLINK_NOFOLLOW = 0x100
AT_STATX_FORCE_SYNC = 0x2000
STATX_BASIC_STATS = 0x7FF
_BUFFER = 256
_MODE, _INO, _SIZE, _MTIME_SEC, _MTIME_NSEC = 28, 32, 40, 112, 120
"""Offsets in ``struct statx``."""


@dataclass(frozen=True, slots=True)
class Attributes:
    """What the listing reads of an entry (the fields of ``os.stat_result`` it uses)."""

    st_mode: int
    st_ino: int
    st_size: int
    st_mtime: float


def _load_statx() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    statx = getattr(ctypes.CDLL(name, use_errno=True), "statx", None)
    if statx is None:
        return None
    statx.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]
    statx.restype = ctypes.c_int
    return statx


_statx = _load_statx()
AVAILABLE = _statx is not None


def synced_stat(name: str, *, dir_fd: int, follow_symlinks: bool = False) -> Any:
    """``os.stat(name, dir_fd=dir_fd, follow_symlinks=False)``, from the server."""
    if _statx is None:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=follow_symlinks)
    buffer = ctypes.create_string_buffer(_BUFFER)
    flags = AT_STATX_FORCE_SYNC | (0 if follow_symlinks else AT_SYMLINK_NOFOLLOW)
    if _statx(dir_fd, os.fsencode(name), flags, STATX_BASIC_STATS, buffer) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), name)
    raw = buffer.raw
    return Attributes(
        st_mode=int.from_bytes(raw[_MODE : _MODE + 2], "little"),
        st_ino=int.from_bytes(raw[_INO : _INO + 8], "little"),
        st_size=int.from_bytes(raw[_SIZE : _SIZE + 8], "little"),
        st_mtime=int.from_bytes(raw[_MTIME_SEC : _MTIME_SEC + 8], "little", signed=True)
        + int.from_bytes(raw[_MTIME_NSEC : _MTIME_NSEC + 4], "little") * 1e-9,
    )
