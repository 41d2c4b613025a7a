"""A passthrough FUSE file system that fails chosen operations on chosen paths, for tests.

NFS clients see EIO, ESTALE and EACCES in the middle of a walk as a matter of course; a test
that wants to show what the agent does then needs a real file system that fails the way the
kernel reports it, not a mocked ``os.stat``. This one mirrors a backing directory (every
operation passes through to it) and fails the operations the test names, switchable while it
runs::

    python tests/kit/faultfs.py BACKING MOUNTPOINT CONTROL     # foreground; fusermount3 -u to stop

``CONTROL`` is a JSON file the test rewrites whenever it likes (re-read on the next call when
its inode or mtime changed)::

    {"faults": [{"path": "/d/f1", "ops": ["getattr"], "error": "EIO"}]}

``path`` is an :mod:`fnmatch` pattern of paths inside the mount; ``ops`` are FUSE operations:
``getattr`` (stat, lstat, fstatat — and the lookup behind every open of that path), ``readdir``
(listing a directory), ``opendir``, ``open`` (files), or ``*``. Every injected failure is
appended to ``CONTROL.hits`` (``op path error`` per line), so a test can show its fault was hit.

The mount disables the kernel's attribute and entry caches (timeouts 0), so every stat reaches
this process, and passes the backing inode numbers through (``use_ino``). :class:`FaultFs`
mounts it in a child process from a test.
"""

from __future__ import annotations

import errno
import fnmatch
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

FAULTABLE_OPS = ("getattr", "readdir", "opendir", "open")


def faultfs_unavailable_reason() -> str | None:
    """Why the fault-injection file system cannot be mounted here, or None when it can."""
    if not Path("/dev/fuse").exists():
        return "FUSE is not available (/dev/fuse missing)"
    try:
        import mfusepy  # noqa: F401
    except (ImportError, OSError) as exc:  # OSError: libfuse itself is missing
        return (
            f"the FUSE binding mfusepy cannot be loaded ({exc}); pip install mfusepy, apt-get install fuse3"
        )
    if os.geteuid() != 0 and shutil.which("fusermount3") is None:
        return "no root and no fusermount3 to mount FUSE file systems"
    return None


# --------------------------------------------------------------------------------------------
# the test side
# --------------------------------------------------------------------------------------------


class FaultFs:
    """``backing`` mirrored at ``mountpoint`` by a child process; faults set with :meth:`fail`."""

    def __init__(self, backing: Path, mountpoint: Path, control: Path | None = None) -> None:
        self.backing = Path(backing)
        self.mountpoint = Path(mountpoint)
        self.control = (
            Path(control)
            if control is not None
            else self.mountpoint.with_name(self.mountpoint.name + ".faults.json")
        )
        self.hits_path = Path(str(self.control) + ".hits")
        self.faults: list[dict[str, Any]] = []
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = Path(str(self.control) + ".log")

    def __enter__(self) -> FaultFs:
        self.mount()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unmount()

    def mount(self, timeout: float = 10.0) -> None:
        self.backing.mkdir(parents=True, exist_ok=True)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        self._write_control()
        self.hits_path.write_text("")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, __file__, str(self.backing), str(self.mountpoint), str(self.control)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not os.path.ismount(self.mountpoint):
            if self.process.poll() is not None:
                raise RuntimeError(f"faultfs exited with {self.process.returncode}:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                self.unmount()
                raise TimeoutError(f"faultfs did not mount {self.mountpoint}:\n{self._log_tail()}")
            time.sleep(0.02)

    def unmount(self) -> None:
        if os.path.ismount(self.mountpoint):
            for command in (["fusermount3", "-u"], ["umount"], ["umount", "-l"]):
                if shutil.which(command[0]) is None:
                    continue
                done = subprocess.run([*command, str(self.mountpoint)], capture_output=True)
                if done.returncode == 0 and not os.path.ismount(self.mountpoint):
                    break
        if self.process is not None:
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None

    def fail(self, path: str, *ops: str, error: str = "EIO") -> None:
        """Fail ``ops`` (default: getattr) on paths matching ``path`` with errno ``error``."""
        unknown = [op for op in ops if op not in (*FAULTABLE_OPS, "*")]
        if unknown or not hasattr(errno, error):
            raise ValueError(f"unknown operation(s) {unknown} or errno {error!r}")
        self.faults.append({"path": path, "ops": list(ops or ("getattr",)), "error": error})
        self._write_control()

    def clear(self) -> None:
        """No more faults."""
        self.faults = []
        self._write_control()

    def hits(self) -> list[tuple[str, str, str]]:
        """``(op, path, error)`` of every failure injected so far."""
        lines = self.hits_path.read_text().splitlines() if self.hits_path.exists() else []
        return [tuple(line.split(" ", 2)) for line in lines if line]  # type: ignore[misc]

    def _write_control(self) -> None:
        staged = self.control.with_name(self.control.name + ".new")
        staged.write_text(json.dumps({"faults": self.faults}))
        os.replace(staged, self.control)

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"


# --------------------------------------------------------------------------------------------
# the file system (runs in its own process)
# --------------------------------------------------------------------------------------------


class _Faults:
    """The control file's rules, re-read when the file changes (one stat per check)."""

    def __init__(self, control: str) -> None:
        self.control = control
        self.hits_path = control + ".hits"
        self._stamp: tuple[int, int] | None = None
        self._rules: tuple[tuple[str, frozenset[str], int, str], ...] = ()
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        try:
            st = os.stat(self.control)
        except OSError:
            self._rules = ()
            return
        stamp = (st.st_ino, st.st_mtime_ns)
        if stamp == self._stamp:
            return
        with self._lock:
            with open(self.control) as handle:
                faults = json.load(handle).get("faults", [])
            self._rules = tuple(
                (
                    rule["path"],
                    frozenset(rule.get("ops", ["getattr"])),
                    getattr(errno, rule["error"]),
                    rule["error"],
                )
                for rule in faults
            )
            self._stamp = stamp

    def check(self, op: str, path: str) -> None:
        """Raise the configured error when ``op`` on ``path`` must fail."""
        from mfusepy import FuseOSError

        self._refresh()
        for pattern, ops, code, name in self._rules:
            if (op in ops or "*" in ops) and fnmatch.fnmatchcase(path, pattern):
                with self._lock, open(self.hits_path, "a") as hits:
                    hits.write(f"{op} {path} {name}\n")
                raise FuseOSError(code)


def _operations(backing: str, faults: _Faults) -> Any:
    from mfusepy import FuseOSError, Operations

    def real(path: str) -> str:
        return backing + path if path != "/" else backing

    def passthrough(func: Any) -> Any:
        def call(*args: Any) -> Any:
            try:
                return func(*args)
            except OSError as exc:
                raise FuseOSError(exc.errno or errno.EIO) from None

        return call

    class Passthrough(Operations):  # type: ignore[misc]
        use_ns = True

        def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
            faults.check("getattr", path)
            st = passthrough(os.fstat)(fh) if fh is not None else passthrough(os.lstat)(real(path))
            return {
                "st_mode": st.st_mode,
                "st_ino": st.st_ino,
                "st_nlink": st.st_nlink,
                "st_uid": st.st_uid,
                "st_gid": st.st_gid,
                "st_size": st.st_size,
                "st_atime": st.st_atime_ns,
                "st_mtime": st.st_mtime_ns,
                "st_ctime": st.st_ctime_ns,
            }

        def opendir(self, path: str) -> int:
            faults.check("opendir", path)
            return 0

        def readdir(self, path: str, fh: int) -> list[tuple[str, dict[str, int], int]]:
            faults.check("readdir", path)
            here = passthrough(os.lstat)(real(path))
            entries = [(".", {"st_ino": here.st_ino, "st_mode": stat.S_IFDIR}, 0)]
            entries.append(("..", {"st_ino": here.st_ino, "st_mode": stat.S_IFDIR}, 0))
            with passthrough(os.scandir)(real(path)) as listing:
                for entry in listing:  # with use_ino the kernel needs each entry's inode
                    if entry.is_dir(follow_symlinks=False):
                        kind = stat.S_IFDIR
                    elif entry.is_symlink():
                        kind = stat.S_IFLNK
                    else:
                        kind = stat.S_IFREG
                    entries.append((entry.name, {"st_ino": entry.inode(), "st_mode": kind}, 0))
            return entries

        def open(self, path: str, flags: int) -> int:
            faults.check("open", path)
            return int(passthrough(os.open)(real(path), flags))

        def create(self, path: str, mode: int, fi: Any = None) -> int:
            return int(passthrough(os.open)(real(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode))

        def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
            return bytes(passthrough(os.pread)(fh, size, offset))

        def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
            return int(passthrough(os.pwrite)(fh, data, offset))

        def truncate(self, path: str, length: int, fh: int | None = None) -> int:
            passthrough(os.truncate)(fh if fh is not None else real(path), length)
            return 0

        def flush(self, path: str, fh: int) -> int:
            return 0

        def fsync(self, path: str, datasync: int, fh: int) -> int:
            passthrough(os.fdatasync if datasync else os.fsync)(fh)
            return 0

        def release(self, path: str, fh: int) -> int:
            os.close(fh)
            return 0

        def unlink(self, path: str) -> int:
            passthrough(os.unlink)(real(path))
            return 0

        def mkdir(self, path: str, mode: int) -> int:
            passthrough(os.mkdir)(real(path), mode)
            return 0

        def rmdir(self, path: str) -> int:
            passthrough(os.rmdir)(real(path))
            return 0

        def rename(self, old: str, new: str) -> int:
            passthrough(os.rename)(real(old), real(new))
            return 0

        def symlink(self, target: str, source: str) -> int:
            passthrough(os.symlink)(source, real(target))
            return 0

        def readlink(self, path: str) -> str:
            return str(passthrough(os.readlink)(real(path)))

        def link(self, target: str, source: str) -> int:
            passthrough(os.link)(real(source), real(target))
            return 0

        def chmod(self, path: str, mode: int) -> int:
            passthrough(os.chmod)(real(path), mode, follow_symlinks=False)
            return 0

        def chown(self, path: str, uid: int, gid: int) -> int:
            passthrough(os.chown)(real(path), uid, gid, follow_symlinks=False)
            return 0

        def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
            if times is None:
                passthrough(os.utime)(real(path), follow_symlinks=False)
            else:
                passthrough(os.utime)(real(path), ns=times, follow_symlinks=False)
            return 0

        def statfs(self, path: str) -> dict[str, int]:
            st = passthrough(os.statvfs)(real(path))
            keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files", "f_flag")
            return {key: getattr(st, key) for key in (*keys, "f_frsize", "f_namemax")}

    return Passthrough()


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print("usage: faultfs.py BACKING MOUNTPOINT CONTROL", file=sys.stderr)
        return 2
    from mfusepy import FUSE

    backing, mountpoint, control = os.path.realpath(argv[1]), argv[2], argv[3]
    FUSE(
        _operations(backing, _Faults(control)),
        mountpoint,
        foreground=True,
        fsname="faultfs",
        attr_timeout=0,
        entry_timeout=0,
        negative_timeout=0,
        use_ino=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
