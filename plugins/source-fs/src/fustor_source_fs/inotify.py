"""A minimal Linux inotify binding (ctypes, stdlib only).

Why not a watcher library: the source must add a watch per directory *before* it lists that
directory, never follow symlinks, keep going when the kernel's watch limit is reached, and know
when the kernel dropped events (queue overflow). A thin binding gives exactly that, and reading
the descriptor blocks in the kernel instead of polling, which keeps realtime latency at the
cost of a system call.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import select
import struct
from dataclasses import dataclass

IN_ACCESS = 0x00000001
IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000

IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

DIRECTORY_MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
    | IN_DONT_FOLLOW
    | IN_EXCL_UNLINK
)
"""What a watched directory reports: every change of its entries, never through a symlink."""

_HEADER = struct.Struct("iIII")
_READ_SIZE = 1 << 16


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One kernel event: the watch it came from, what happened, and the entry's raw name."""

    wd: int
    mask: int
    cookie: int
    name: bytes


def _load_libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.inotify_init1.argtypes = [ctypes.c_int]
    libc.inotify_init1.restype = ctypes.c_int
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    libc.inotify_add_watch.restype = ctypes.c_int
    libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.inotify_rm_watch.restype = ctypes.c_int
    return libc


_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = _load_libc()
    return _libc


def _raise_errno(what: str, path: bytes | None = None) -> None:
    code = ctypes.get_errno()
    raise OSError(code, f"{what}: {os.strerror(code)}", os.fsdecode(path) if path is not None else None)


class Inotify:
    """One inotify instance: add and remove directory watches, read events."""

    def __init__(self) -> None:
        fd = _lib().inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            _raise_errno("inotify_init1")
        self.fd = fd
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)

    def add_watch(self, path: str, mask: int = DIRECTORY_MASK) -> int:
        """Watch ``path`` (a directory, not followed if a symlink); the watch descriptor.

        Raises OSError: ENOSPC when the watch limit is reached, ENOENT/ENOTDIR when the path is
        gone or no longer a directory, EACCES when it is unreadable.
        """
        raw = os.fsencode(path)
        wd = _lib().inotify_add_watch(self.fd, raw, mask)
        if wd < 0:
            _raise_errno("inotify_add_watch", raw)
        return int(wd)

    def rm_watch(self, wd: int) -> None:
        """Stop a watch; a watch the kernel already dropped is not an error."""
        if _lib().inotify_rm_watch(self.fd, wd) < 0 and ctypes.get_errno() != errno.EINVAL:
            _raise_errno("inotify_rm_watch")

    def wait(self, timeout_s: float) -> bool:
        """Wait until events can be read or ``timeout_s`` passes; True when readable."""
        return bool(self._poll.poll(max(0, int(timeout_s * 1000))))

    def read(self) -> list[RawEvent]:
        """Every event queued right now (non-blocking; ``[]`` when none)."""
        events: list[RawEvent] = []
        while True:
            try:
                data = os.read(self.fd, _READ_SIZE)
            except BlockingIOError:
                return events
            offset = 0
            size = len(data)
            while offset + _HEADER.size <= size:
                wd, mask, cookie, length = _HEADER.unpack_from(data, offset)
                start = offset + _HEADER.size
                name = data[start : start + length].rstrip(b"\0")
                events.append(RawEvent(wd, mask, cookie, name))
                offset = start + length
            if size < _READ_SIZE // 2:
                return events

    def close(self) -> None:
        if self.fd >= 0:
            self._poll.unregister(self.fd)
            os.close(self.fd)
            self.fd = -1
