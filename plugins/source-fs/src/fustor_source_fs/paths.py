"""Datastore paths of a watched tree: '/'-separated, relative to the root, starting with '/'.

Names come from the kernel as bytes; Python hands them over decoded with ``surrogateescape``.
A name that is not valid UTF-8 cannot be sent (Fusion refuses lone surrogates), so the walks
skip it — and its subtree — with a counted, logged reason instead of failing a whole batch.
"""

from __future__ import annotations


def child_path(parent: str, name: str) -> str:
    """The datastore path of ``name`` inside directory ``parent``."""
    return "/" + name if parent == "/" else parent + "/" + name


def parent_of(path: str) -> str:
    """The datastore path of the directory holding ``path`` (the root's parent is the root)."""
    head = path.rpartition("/")[0]
    return head or "/"


def child_prefix(parent: str) -> str:
    """What every child path of ``parent`` starts with."""
    return "/" if parent == "/" else parent + "/"


def is_sendable_name(name: str) -> bool:
    """True when ``name`` (decoded with surrogateescape) is valid UTF-8 and can be sent."""
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def decode_name(raw: bytes) -> str | None:
    """A kernel name as the str ``os.listdir`` would give, or None when it is not valid UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def is_under(path: str, ancestor: str) -> bool:
    """True when ``path`` is ``ancestor`` or inside it."""
    return ancestor == "/" or path == ancestor or path.startswith(ancestor + "/")
