"""Sentinel: the current state of paths Fusion is unsure about (suspects), one lstat each.

Only paths that are valid datastore paths and whose parent directory really is inside the
watched tree (no symlink on the way) are looked at; anything else is reported as not existing
from this tree's point of view. A path whose ``lstat`` fails with anything but ENOENT/ENOTDIR
(EIO, ESTALE, EACCES, ...) is left out of the answer — it is not known to be gone — and the
failure is counted by its errno name.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from fustor_core.agent_api import SentinelCheck
from fustor_core.event_model import path_problem
from fustor_source_fs.dirs import is_dir_mode
from fustor_source_fs.paths import parent_of
from fustor_source_fs.problems import Problems


def recheck_paths(root: str, paths: Sequence[str], problems: Problems) -> list[SentinelCheck]:
    """``{path, exists, mtime, size}`` for each path (``mtime``/``size`` only when it exists)."""
    real_dirs: dict[str, bool] = {}
    results: list[SentinelCheck] = []
    for path in paths:
        if path_problem(path) is not None or path == "/":
            problems.skip("invalid_path", path)
            continue
        parent = parent_of(path)
        if parent not in real_dirs:
            expected = root if parent == "/" else root + parent
            real_dirs[parent] = os.path.realpath(expected) == expected
        if not real_dirs[parent]:
            results.append({"path": path, "exists": False})
            continue
        try:
            st = os.stat(root + path, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            results.append({"path": path, "exists": False})
            continue
        except OSError as exc:
            problems.failed(path, exc)
            continue
        size = 0 if is_dir_mode(st.st_mode) else st.st_size
        results.append({"path": path, "exists": True, "mtime": st.st_mtime, "size": size})
    problems.tallies["rechecked"] += len(results)
    return results
