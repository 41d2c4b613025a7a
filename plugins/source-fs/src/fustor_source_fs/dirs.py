"""Opening and listing one directory without following symlinks, whatever the tree does meanwhile.

Walks open each directory by descriptor with ``O_NOFOLLOW`` and stat entries relative to it
(``fstatat``): a directory swapped for a symlink between listing and opening is never followed,
and stat'ing a name relative to an open directory is cheaper than resolving a full path.
A vanished entry is normal churn and is only counted; every other failure (EACCES, EIO,
ESTALE, ...) is counted by its errno name and logged.
"""

from __future__ import annotations

import errno
import os

from fustor_source_fs.problems import Problems

OPEN_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
S_IFMT = 0o170000
S_IFDIR = 0o040000
S_IFREG = 0o100000
VANISHED = -1
""":func:`open_dir` result: the directory is gone (or was replaced); its absence is the truth."""
UNREADABLE = -2
""":func:`open_dir` result: the directory exists but cannot be read; say nothing about its contents."""


def is_dir_mode(mode: int) -> bool:
    return (mode & S_IFMT) == S_IFDIR


def is_regular_mode(mode: int) -> bool:
    return (mode & S_IFMT) == S_IFREG


def open_dir(abs_path: str, path: str, problems: Problems, expect_ino: int | None = None) -> int:
    """A descriptor for directory ``abs_path`` (datastore path ``path``), or :data:`VANISHED` /
    :data:`UNREADABLE` (both negative).

    ``expect_ino`` guards against a directory replaced between being listed by its parent and
    being opened: a different inode is treated as vanished (the next walk sees the new one).
    """
    try:
        fd = os.open(abs_path, OPEN_DIR_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        problems.tallies["vanished"] += 1
        return VANISHED
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a symlink: never followed
            problems.tallies["vanished"] += 1
            return VANISHED
        problems.failed(path, exc)
        return UNREADABLE
    if expect_ino is not None:
        try:
            same = os.fstat(fd).st_ino == expect_ino
        except OSError as exc:
            os.close(fd)
            problems.failed(path, exc)
            return UNREADABLE
        if not same:
            os.close(fd)
            problems.tallies["vanished"] += 1
            return VANISHED
    return fd


def list_names(fd: int, path: str, problems: Problems) -> list[str] | None:
    """The entry names of an open directory, or None when listing fails."""
    try:
        return os.listdir(fd)
    except FileNotFoundError:
        problems.tallies["vanished"] += 1
    except OSError as exc:
        problems.failed(path, exc)
    return None
