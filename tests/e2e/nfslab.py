"""The NFS lab: one export seen through several bindfs mounts, like NFS clients on one machine.

inotify on a FUSE mount only reports operations made *through that mount*, which is exactly the
locality of NFS clients: an agent watching mount A never hears of a write made through mount C.
FUSE's ``attr_timeout``/``entry_timeout`` add NFS-like attribute caching.

    backing dir ("the export")
      ├── mount a   host with the leader agent
      ├── mount b   host with a follower agent
      └── mount c   host with no agent (a blind spot); writing to the export directly is too

Usable on its own::

    python tests/e2e/nfslab.py up /tmp/lab      # mounts and prints the paths; `down` undoes it
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "kit"))

HOSTS = ("a", "b", "c")


def lab_unavailable_reason() -> str | None:
    """Why the lab cannot run here, or None when it can."""
    if not Path("/dev/fuse").exists():
        return "FUSE is not available (/dev/fuse missing)"
    if shutil.which("bindfs") is None:
        return "bindfs is not installed (apt-get install bindfs)"
    if os.geteuid() != 0 and shutil.which("fusermount3") is None and shutil.which("fusermount") is None:
        return "no root and no fusermount to unmount FUSE file systems"
    return None


class NfsLab:
    """A backing directory and one bindfs mount per host; :meth:`down` always unmounts."""

    def __init__(
        self,
        base: Path,
        *,
        hosts: tuple[str, ...] = HOSTS,
        attr_timeout: float | None = None,
        entry_timeout: float | None = None,
        faulty: tuple[str, ...] = (),
    ) -> None:
        """:param faulty: hosts mounted through the fault-injection file system
        (``tests/kit/faultfs.py``) instead of bindfs, so a test can make operations fail
        with EIO, ESTALE... on chosen paths (:meth:`faults`). It caches nothing."""
        self.base = Path(base)
        self.export = self.base / "export"
        self.mounts = {host: self.base / f"mnt-{host}" for host in hosts}
        self._faulty = {host: None for host in faulty}
        self._faultfs: dict[str, Any] = {}
        self._options = []
        if attr_timeout is not None:
            self._options.append(f"attr_timeout={attr_timeout}")
        if entry_timeout is not None:
            self._options.append(f"entry_timeout={entry_timeout}")

    def __enter__(self) -> NfsLab:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def up(self) -> None:
        """Create the export and mount it once per host."""
        self.export.mkdir(parents=True, exist_ok=True)
        try:
            for host, mountpoint in self.mounts.items():
                mountpoint.mkdir(parents=True, exist_ok=True)
                if host in self._faulty:
                    from faultfs import FaultFs

                    self._faultfs[host] = FaultFs(self.export, mountpoint, self.base / f"faults-{host}.json")
                    self._faultfs[host].mount()
                    continue
                command = ["bindfs", "--no-allow-other"]
                if self._options:
                    command += ["-o", ",".join(self._options)]
                subprocess.run(
                    [*command, str(self.export), str(mountpoint)], check=True, capture_output=True, text=True
                )
                _wait_until(lambda m=mountpoint: os.path.ismount(m), 5.0, f"{mountpoint} to mount")
        except BaseException:
            self.down()
            raise

    def down(self) -> None:
        """Unmount every mount that is still mounted (lazily if a process holds it busy)."""
        for faultfs in self._faultfs.values():
            faultfs.unmount()
        for mountpoint in self.mounts.values():
            if not os.path.ismount(mountpoint):
                continue
            for command in (["fusermount3", "-u"], ["fusermount", "-u"], ["umount"], ["umount", "-l"]):
                if shutil.which(command[0]) is None:
                    continue
                done = subprocess.run([*command, str(mountpoint)], capture_output=True)
                if done.returncode == 0 and not os.path.ismount(mountpoint):
                    break

    def faults(self, host: str) -> Any:
        """The fault-injection file system behind a ``faulty`` host's mount (a ``FaultFs``)."""
        return self._faultfs[host]

    def host(self, name: str) -> Path:
        """The mount point through which host ``name`` sees the export."""
        return self.mounts[name]

    def path(self, host: str, relative: str) -> Path:
        """``relative`` (a datastore path like ``/upload/x``) as seen from ``host``."""
        return self.mounts[host] / relative.lstrip("/")


def _wait_until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("up", "down"):
        print("usage: nfslab.py up|down BASE_DIR", file=sys.stderr)
        return 2
    lab = NfsLab(Path(argv[2]))
    if argv[1] == "up":
        reason = lab_unavailable_reason()
        if reason:
            print(f"cannot build the lab: {reason}", file=sys.stderr)
            return 1
        lab.up()
        print(f"export: {lab.export}")
        for host, mountpoint in lab.mounts.items():
            print(f"host {host}: {mountpoint}")
    else:
        lab.down()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
