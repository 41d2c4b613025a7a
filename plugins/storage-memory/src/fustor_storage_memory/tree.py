"""The in-memory tree's building blocks: directory objects, packed file records, path walks.

Memory is what limits how many files one Fusion holds (10 million per 24 GiB machine), so the
layout is chosen for bytes per file, not for convenience:

* a directory is a ``__slots__`` object (:class:`Dir`) holding its direct children by name;
* a file is *not* an object: it is a 24-byte ``bytes`` value (size, mtime, confirmed_at) packed
  with :data:`FILE` in its parent's ``files`` dict, under an interned name (names like
  ``data_17.dat`` repeat across thousands of directories and are stored once);
* no node stores its absolute path and there is no global path index: paths are resolved by
  walking components from the root.

Each directory keeps the recursive counts of its subtree (``n_files``, ``n_dirs``, ``n_bytes``,
the directory itself not counted), maintained incrementally by every change so that aggregates
are read in O(1) and a subtree is removed in O(depth).
"""

from __future__ import annotations

import struct
import sys

from fustor_core.arbitration import NodeInfo

FILE = struct.Struct("<qdd")
"""A file's record: size (bytes), mtime (storage clock), confirmed_at (Fusion clock, 0.0: never)."""

pack_file = FILE.pack
unpack_file = FILE.unpack
intern = sys.intern


class Dir:
    """One directory: its own attributes, its direct children and its subtree's counts."""

    __slots__ = (
        "confirmed_at",
        "dirs",
        "files",
        "mtime",
        "n_bytes",
        "n_dirs",
        "n_files",
        "name",
        "parent",
        "size",
    )

    def __init__(self, name: str, parent: Dir | None) -> None:
        self.name = name
        self.parent = parent
        self.mtime = 0.0
        self.size = 0
        self.confirmed_at = 0.0
        self.dirs: dict[str, Dir] | None = None
        """Subdirectories by name; None while there are none (most leaf dirs), to save a dict."""
        self.files: dict[str, bytes] = {}
        """Files by interned name -> :data:`FILE` record."""
        self.n_files = 0
        self.n_dirs = 0
        self.n_bytes = 0

    def info(self) -> NodeInfo:
        """What a lookup reports for this directory."""
        return NodeInfo(True, self.size, self.mtime, self.confirmed_at)


def file_info(record: bytes) -> NodeInfo:
    """What a lookup reports for a file record."""
    size, mtime, confirmed_at = unpack_file(record)
    return NodeInfo(False, size, mtime, confirmed_at)


def propagate(start: Dir | None, files: int, dirs: int, nbytes: int) -> None:
    """Add a change of the counts to ``start`` and every ancestor up to the root."""
    node = start
    while node is not None:
        node.n_files += files
        node.n_dirs += dirs
        node.n_bytes += nbytes
        node = node.parent


def components(path: str) -> list[str]:
    """The names along an absolute path (``[]`` for the root)."""
    if path == "/" or not path:
        return []
    return path[1:].split("/")


def find_dir(root: Dir, head: str) -> Dir | None:
    """The directory at absolute path ``head`` (``""`` or ``"/"`` is the root), or None."""
    node = root
    if head == "" or head == "/":
        return node
    for name in head[1:].split("/"):
        dirs = node.dirs
        if dirs is None:
            return None
        child = dirs.get(name)
        if child is None:
            return None
        node = child
    return node


def remove_file(parent: Dir, name: str) -> bool:
    """Drop file ``name`` from ``parent`` and subtract it from every ancestor's counts."""
    record = parent.files.pop(name, None)
    if record is None:
        return False
    propagate(parent, -1, 0, -unpack_file(record)[0])
    return True


def remove_dir(parent: Dir, name: str) -> bool:
    """Detach subdirectory ``name`` (and its subtree) from ``parent`` in O(depth)."""
    dirs = parent.dirs
    if dirs is None:
        return False
    child = dirs.pop(name, None)
    if child is None:
        return False
    if not dirs:
        parent.dirs = None
    child.parent = None
    propagate(parent, -child.n_files, -child.n_dirs - 1, -child.n_bytes)
    return True


def make_dir(parent: Dir, name: str) -> Dir:
    """Create subdirectory ``name`` in ``parent`` (replacing a file of that name) and count it."""
    if name in parent.files:
        remove_file(parent, name)
    child = Dir(intern(name), parent)
    dirs = parent.dirs
    if dirs is None:
        parent.dirs = {child.name: child}
    else:
        dirs[child.name] = child
    propagate(parent, 0, 1, 0)
    return child


def ensure_dir(root: Dir, head: str) -> Dir:
    """The directory at ``head``, creating missing (implicit, mtime 0.0) directories on the way;
    a file standing where a directory is needed is replaced."""
    node = root
    if head == "" or head == "/":
        return node
    for name in head[1:].split("/"):
        dirs = node.dirs
        child = dirs.get(name) if dirs is not None else None
        node = child if child is not None else make_dir(node, name)
    return node


def sorted_names(d: Dir) -> list[str]:
    """The names of ``d``'s children, files and directories interleaved, in string order."""
    dirs = d.dirs
    if dirs is None:
        return sorted(d.files)
    if not d.files:
        return sorted(dirs)
    names = list(d.files)
    names.extend(dirs)
    names.sort()
    return names
