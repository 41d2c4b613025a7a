"""The soak: a seeded random workload on the NFS lab, interleaved with faults, then a full comparison.

The product's promise is that what Fusion answers is what is on the export, or that it says it
is not sure. The soak tests that promise as a whole, on real processes: hosts ``a`` and ``b`` run
agents (one leads), ``c`` runs none. A seeded workload creates, appends to, truncates, rewrites
in place, renames and deletes files and directories through all three hosts and moves trees in
from an unwatched sibling, while faults hit the services: Fusion killed and restarted, the
leader agent killed (the follower takes over), an agent frozen past the session timeout, an
agent stopped while files are deleted, an inotify queue overflow, Fusion frozen (unreachable).

While it runs, a sampler checks that no file the view already showed as deleted comes back. When
it stops, the leader runs one audit and one deep audit, and the whole view is compared with
``os.walk`` of the export: missing, extra, size and mtime mismatches must all be zero.

``tests/e2e/test_soak.py`` runs a short seeded version in the suite; ``benchmarks/soak.py``
runs the long one (20,000 operations) and prints the figures.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from nfslab import NfsLab
from processes import Service
from stack import DATASTORE, LabStack

ROOT = "/soak"
INOTIFY_QUEUE = Path("/proc/sys/fs/inotify/max_queued_events")


# --------------------------------------------------------------------------------------------
# configuration and report
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SoakConfig:
    """How long and how hard to soak; the defaults are the suite's short version."""

    seed: int = 20261129
    operations: int = 2000
    max_dirs: int = 60
    fusion_pause_s: float = 6.0
    """'Fusion unreachable': it is frozen (SIGSTOP) this long, longer than the session timeout."""
    agent_freeze_s: float = 5.0
    """An agent frozen (SIGSTOP) this long: past the session timeout (3 s in the lab stack)."""
    overflow_queue: int = 256
    """inotify queue length the overflow victim is started with (the sysctl, briefly lowered)."""
    overflow_burst: int = 400
    """Files created through the frozen victim's mount to overflow its queue."""
    eio_s: float = 4.0
    """How long host a's mount fails stats and listings in a few directories (EIO, ESTALE)."""
    converge_timeout_s: float = 90.0
    sample_every: int = 20
    """Operations between two resurrection checks."""


@dataclass
class Differences:
    """The view against the export, path by path."""

    missing: list[str] = field(default_factory=list)
    """On the export, not in the view."""
    extra: list[str] = field(default_factory=list)
    """In the view, not on the export."""
    size: list[str] = field(default_factory=list)
    mtime: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.size) + len(self.mtime)

    def summary(self, most: int = 10) -> str:
        parts = []
        for name in ("missing", "extra", "size", "mtime"):
            paths: list[str] = getattr(self, name)
            parts.append(f"{name}={len(paths)}" + (f" {sorted(paths)[:most]}" if paths else ""))
        return ", ".join(parts)


@dataclass
class SoakReport:
    """What a soak did and found."""

    seed: int
    operations: int = 0
    failed_operations: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    resurrected: list[str] = field(default_factory=list)
    """Paths the view showed again after it had shown them deleted (must stay empty)."""
    details: list[str] = field(default_factory=list)
    """How each resurrected path or remaining difference came about, as far as one can tell."""
    checks: int = 0
    """Resurrection checks made while the workload ran."""
    overflows: int = 0
    """inotify queue overflows the agents reported (the overflow fault must cause one)."""
    io_errors: int = 0
    """Operations host a's mount failed on purpose (EIO, ESTALE) during the I/O-error fault."""
    workload_s: float = 0.0
    converge_s: float | None = None
    """From the end of the workload to the first comparison with no difference."""
    differences: Differences = field(default_factory=Differences)
    files: int = 0
    dirs: int = 0

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.by_kind.items()))
        converged = f"{self.converge_s:.1f} s" if self.converge_s is not None else "never"
        return [
            f"seed {self.seed}: {self.operations} operations ({self.failed_operations} failed) in"
            f" {self.workload_s:.1f} s: {kinds}",
            f"faults: {'; '.join(self.faults)}; inotify overflows: {self.overflows};"
            f" injected I/O errors: {self.io_errors}",
            f"export at the end: {self.files} files, {self.dirs} directories",
            f"resurrected while running: {len(self.resurrected)} ({self.checks} checks)"
            + (f" {self.resurrected[:10]}" if self.resurrected else ""),
            f"after one audit and one deep audit: {self.differences.summary()}",
            f"converged after: {converged}",
            *self.details[:20],
        ]


# --------------------------------------------------------------------------------------------
# the export as the workload knows it
# --------------------------------------------------------------------------------------------


class ExportModel:
    """What exists on the export, kept by the workload (the truth is re-read after a failed
    operation), and which deleted paths the view has already shown as gone."""

    def __init__(self, export: Path) -> None:
        self.export = export
        self.files: set[str] = set()
        self.dirs: set[str] = {ROOT}
        self.deleted: set[str] = set()
        """Deleted by the workload and not re-created since."""
        self.watched: set[str] = set()
        """Deleted paths the view held when they were deleted: once it shows them gone, they
        must stay gone. (A path the view never held — made through a host without an agent
        and not yet scanned — may still arrive late from a scan that listed it before; that is
        the lag of a blind change, not a resurrection.)"""
        self.probe: Callable[[str], bool | None] = lambda path: None
        """Asks the view whether it holds a path (set by the soak)."""
        self.confirmed_gone: set[str] = set()
        """Deleted, and the view has answered 404 for it since: it must never answer 200 again."""
        self.history: dict[str, list[str]] = {}
        """What happened to each path, for the report of a resurrected one."""
        self.now = "start"
        """The operation being done (set by the workload), stamped on history entries."""

    def note(self, path: str, what: str) -> None:
        entries = self.history.setdefault(path, [])
        if len(entries) < 12:
            entries.append(f"{what} at {self.now} (t={time.time():.3f})")

    def add_file(self, path: str) -> None:
        self.files.add(path)
        self._recreated(path)

    def add_dir(self, path: str) -> None:
        self.dirs.add(path)
        self._recreated(path)

    def _recreated(self, path: str) -> None:
        if path in self.deleted:
            self.note(path, "re-created")
        self.deleted.discard(path)
        self.watched.discard(path)
        self.confirmed_gone.discard(path)

    def remove_file(self, path: str) -> None:
        self.files.discard(path)
        self._deleted(path)

    def _deleted(self, path: str, *, probe: bool = True) -> None:
        self.deleted.add(path)
        known = probe and self.probe(path)
        if known:
            self.watched.add(path)
        self.note(path, "deleted (the view held it)" if known else "deleted")

    def remove_tree(self, path: str) -> None:
        prefix = path + "/"
        for i, doomed in enumerate(sorted(p for p in self.files if p.startswith(prefix))):
            self.files.discard(doomed)
            self._deleted(doomed, probe=i < 10)  # a few of a big subtree are enough to watch
        for doomed in [d for d in self.dirs if d == path or d.startswith(prefix)]:
            self.dirs.discard(doomed)
            self._deleted(doomed, probe=doomed == path)

    def resync(self, path: str) -> None:
        """After a failed operation: read what the export really holds at ``path``."""
        real = self.export / path.lstrip("/")
        if real.is_dir():
            self.remove_tree(path)
            for top, _dirnames, filenames in os.walk(real):
                rel = "/" + os.path.relpath(top, self.export)
                self.add_dir(rel)
                for name in filenames:
                    self.add_file(f"{rel}/{name}")
        elif real.exists():
            self.add_file(path)
        elif path in self.files:
            self.remove_file(path)
        elif path in self.dirs:
            self.remove_tree(path)

    def empty_dirs(self) -> list[str]:
        busy = {os.path.dirname(p) for p in self.files} | {os.path.dirname(d) for d in self.dirs}
        return [d for d in self.dirs if d != ROOT and d not in busy]


# --------------------------------------------------------------------------------------------
# the workload
# --------------------------------------------------------------------------------------------

OPERATIONS: dict[str, int] = {
    "create": 22,
    "append": 12,
    "truncate": 6,
    "rewrite": 8,
    "rename_file": 8,
    "rename_dir": 2,
    "delete": 14,
    "mkdir": 6,
    "rmdir": 3,
    "move_in": 2,
    "copy_keep_mtime": 3,
}
"""Relative weights of the operation kinds."""


class Workload:
    """Seeded random operations through the hosts' mounts."""

    def __init__(
        self, lab: NfsLab, model: ExportModel, rng: random.Random, report: SoakReport, *, max_dirs: int
    ) -> None:
        self.lab = lab
        self.max_dirs = max_dirs
        self.model = model
        self.rng = rng
        self.report = report
        self.hosts: tuple[str, ...] = ("a", "b", "c")
        self._names = 0
        self._kinds = list(OPERATIONS)
        self._weights = [OPERATIONS[k] for k in self._kinds]
        self.sibling = lab.base / "sibling"
        self.sibling.mkdir(exist_ok=True)

    # -- helpers ----------------------------------------------------------------------------

    def _name(self, prefix: str) -> str:
        self._names += 1
        return f"{prefix}{self._names:06d}"

    def _host(self) -> str:
        return self.rng.choice(self.hosts)

    def _real(self, host: str, path: str) -> Path:
        return self.lab.path(host, path)

    def _pick_dir(self) -> str:
        return self.rng.choice(sorted(self.model.dirs))

    def _pick_file(self) -> str | None:
        files = self.model.files
        return self.rng.choice(sorted(files)) if files else None

    def _payload(self, low: int = 1, high: int = 4096) -> bytes:
        return self.rng.randbytes(self.rng.randint(low, high))

    # -- one operation ----------------------------------------------------------------------

    def step(self) -> None:
        kind = self.rng.choices(self._kinds, self._weights)[0]
        host = self._host()
        self.model.now = f"op {self.report.operations} ({kind} via {host})"
        target: str | None = None
        try:
            target = getattr(self, f"_{kind}")(host)
        except OSError:
            self.report.failed_operations += 1
            if target is not None:
                self.model.resync(target)
            self._resync_all_if_needed()
        self.report.operations += 1
        self.report.by_kind[kind] = self.report.by_kind.get(kind, 0) + 1

    def _resync_all_if_needed(self) -> None:
        """A failed operation may have left a half-done change: re-read the whole export."""
        fresh = ExportModel(self.model.export)
        fresh.resync(ROOT)
        model = self.model
        for path in model.files - fresh.files:
            model.remove_file(path)
        for path in model.dirs - fresh.dirs:
            model.remove_tree(path)
        for path in fresh.dirs - model.dirs:
            model.add_dir(path)
        for path in fresh.files - model.files:
            model.add_file(path)

    def _create(self, host: str) -> str:
        path = f"{self._pick_dir()}/{self._name('f')}.dat"
        self._real(host, path).write_bytes(self._payload())
        self.model.add_file(path)
        return path

    def _append(self, host: str) -> str | None:
        path = self._pick_file()
        if path is None:
            return self._create(host)
        with self._real(host, path).open("ab") as handle:
            handle.write(self._payload(1, 512))
        return path

    def _truncate(self, host: str) -> str | None:
        path = self._pick_file()
        if path is None:
            return None
        real = self._real(host, path)
        os.truncate(real, self.rng.randint(0, max(0, real.stat().st_size - 1)))
        return path

    def _rewrite(self, host: str) -> str | None:
        """Rewrite in place: same size, new bytes, new mtime — the directory does not change."""
        path = self._pick_file()
        if path is None:
            return None
        real = self._real(host, path)
        size = real.stat().st_size
        with real.open("r+b") as handle:
            handle.write(self.rng.randbytes(max(size, 1)))
        return path

    def _rename_file(self, host: str) -> str | None:
        path = self._pick_file()
        if path is None:
            return None
        new = f"{self._pick_dir()}/{self._name('r')}.dat"
        os.rename(self._real(host, path), self._real(host, new))
        self.model.remove_file(path)
        self.model.add_file(new)
        return path

    def _rename_dir(self, host: str) -> str | None:
        candidates = sorted(d for d in self.model.dirs if d != ROOT)
        if not candidates:
            return None
        path = self.rng.choice(candidates)
        parents = [d for d in sorted(self.model.dirs) if d != path and not d.startswith(path + "/")]
        new = f"{self.rng.choice(parents)}/{self._name('D')}"
        moved_files = [p for p in self.model.files if p.startswith(path + "/")]
        moved_dirs = [d for d in self.model.dirs if d == path or d.startswith(path + "/")]
        os.rename(self._real(host, path), self._real(host, new))
        self.model.remove_tree(path)
        for d in moved_dirs:
            self.model.add_dir(new + d[len(path) :])
        for p in moved_files:
            self.model.add_file(new + p[len(path) :])
        return path

    def _delete(self, host: str) -> str | None:
        path = self._pick_file()
        if path is None:
            return None
        self._real(host, path).unlink()
        self.model.remove_file(path)
        return path

    def _mkdir(self, host: str) -> str | None:
        if len(self.model.dirs) >= self.max_dirs:
            return self._create(host)
        parent = self._pick_dir()
        if parent.count("/") > 4:
            parent = ROOT
        path = f"{parent}/{self._name('d')}"
        self._real(host, path).mkdir()
        self.model.add_dir(path)
        return path

    def _rmdir(self, host: str) -> str | None:
        empty = self.model.empty_dirs()
        if not empty:
            return None
        path = self.rng.choice(sorted(empty))
        self._real(host, path).rmdir()
        self.model.remove_tree(path)
        return path

    def _move_in(self, host: str) -> str:
        """A small tree with old mtimes appears at once, moved in from outside the export
        (through the server, as a host without an agent would)."""
        staging = self.sibling / self._name("m")
        staging.mkdir()
        old = time.time() - self.rng.randint(3600, 365 * 86_400)
        names = [self._name("mv") + ".dat" for _ in range(self.rng.randint(1, 20))]
        for name in names:
            (staging / name).write_bytes(self._payload(1, 256))
            os.utime(staging / name, (old, old))
        path = f"{self._pick_dir()}/{staging.name}"
        os.rename(staging, self.lab.export / path.lstrip("/"))
        self.model.add_dir(path)
        for name in names:
            self.model.add_file(f"{path}/{name}")
        return path

    def _copy_keep_mtime(self, host: str) -> str | None:
        """``cp -p``: a new file whose mtime is old (stale evidence for mtime rules)."""
        source = self._pick_file()
        if source is None:
            return None
        path = f"{self._pick_dir()}/{self._name('p')}.dat"
        shutil.copy2(self._real(host, source), self._real(host, path))
        self.model.add_file(path)
        return path

    # -- bursts used by faults --------------------------------------------------------------

    def delete_some(self, host: str, count: int) -> int:
        deleted = 0
        for path in self.rng.sample(sorted(self.model.files), min(count, len(self.model.files))):
            try:
                self._real(host, path).unlink()
            except OSError:
                self.model.resync(path)
                continue
            self.model.remove_file(path)
            deleted += 1
        return deleted

    def burst(self, host: str, count: int) -> None:
        """Many events at once through one mount, in a directory that already exists (so it is
        watched): files created, then half of them deleted."""
        directory = self._pick_dir()
        created = []
        for _ in range(count):
            path = f"{directory}/{self._name('b')}.dat"
            self._real(host, path).write_bytes(b"burst")
            self.model.add_file(path)
            created.append(path)
        for path in created[::2]:
            self._real(host, path).unlink()
            self.model.remove_file(path)


# --------------------------------------------------------------------------------------------
# the view
# --------------------------------------------------------------------------------------------


class ViewReader:
    """Fusion's answers about the view, tolerant of a Fusion that is down or frozen."""

    def __init__(self, stack: LabStack) -> None:
        self.stack = stack
        self.http = httpx.Client(timeout=1.0)

    def _get(self, what: str, **params: Any) -> httpx.Response | None:
        try:
            return self.http.get(
                f"{self.stack.fusion_url}/api/v1/views/{DATASTORE}/{what}",
                params=params,
                headers={"X-API-Key": self.stack.registry.query_key},
            )
        except httpx.HTTPError:
            return None

    def present(self, path: str) -> bool | None:
        """True/False when Fusion answered; None when it could not (down, frozen, loading)."""
        answer = self._get("tree", path=path, depth=0)
        if answer is None or answer.status_code not in (200, 404):
            return None
        return answer.status_code == 200

    def stats(self) -> dict[str, Any] | None:
        answer = self._get("stats")
        if answer is None or answer.status_code != 200:
            return None
        stats: dict[str, Any] = answer.json()
        return stats

    def node(self, path: str) -> dict[str, Any] | None:
        """The node as the view answers it (no children), or None."""
        answer = self._get("tree", path=path, depth=0)
        if answer is None or answer.status_code != 200:
            return None
        node: dict[str, Any] = answer.json()
        return node

    def everything(self) -> dict[str, dict[str, Any]] | None:
        """Every node below the soak root, by path (None when Fusion cannot answer)."""
        nodes: dict[str, dict[str, Any]] = {}
        pending = [ROOT]
        while pending:
            directory = pending.pop()
            cursor: str | None = None
            while True:
                params: dict[str, Any] = {"path": directory, "depth": 1, "limit": 1000}
                if cursor:
                    params["cursor"] = cursor
                answer = self._get("tree", **params)
                if answer is None:
                    return None
                if answer.status_code == 404:
                    break
                if answer.status_code != 200:
                    return None
                node = answer.json()
                nodes.setdefault(directory, node)
                for child in node.get("children", []):
                    nodes[child["path"]] = child
                    if child["is_dir"]:
                        pending.append(child["path"])
                cursor = answer.headers.get("X-Next-Cursor")
                if not cursor:
                    break
        return nodes

    def close(self) -> None:
        self.http.close()


def export_nodes(export: Path) -> dict[str, tuple[bool, int, float]]:
    """Every entry below the soak root on the export: path -> (is_dir, size, mtime)."""
    nodes: dict[str, tuple[bool, int, float]] = {}
    base = export / ROOT.lstrip("/")
    for top, dirnames, filenames in os.walk(base):
        rel_top = "/" + os.path.relpath(top, export)
        for name in dirnames:
            st = os.lstat(os.path.join(top, name))
            nodes[f"{rel_top}/{name}"] = (True, 0, st.st_mtime)
        for name in filenames:
            st = os.lstat(os.path.join(top, name))
            nodes[f"{rel_top}/{name}"] = (False, st.st_size, st.st_mtime)
    return nodes


def compare(view: dict[str, dict[str, Any]], export: dict[str, tuple[bool, int, float]]) -> Differences:
    """Files and directories below the soak root: presence, kind, file sizes and mtimes."""
    found = Differences()
    view = {path: node for path, node in view.items() if path != ROOT}
    for path, (is_dir, size, mtime) in export.items():
        node = view.get(path)
        if node is None or bool(node["is_dir"]) != is_dir:
            found.missing.append(path)
            continue
        if not is_dir and node["size"] != size:
            found.size.append(path)
        if not is_dir and abs(node["mtime"] - mtime) > 1e-6:
            found.mtime.append(path)
    found.extra = [path for path in view if path not in export]
    return found


# --------------------------------------------------------------------------------------------
# faults
# --------------------------------------------------------------------------------------------


def _signal(service: Service, sig: signal.Signals) -> None:
    if service.pid is not None and service.alive:
        os.kill(service.pid, sig)


@contextlib.contextmanager
def _inotify_queue(length: int) -> Iterator[bool]:
    """Lower the inotify queue length for instances created inside the block (root only)."""
    try:
        before = INOTIFY_QUEUE.read_text().strip()
        INOTIFY_QUEUE.write_text(str(length))
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        INOTIFY_QUEUE.write_text(before)


class Soak:
    """One soak run on a started stack (Fusion plus agents on hosts a and b)."""

    def __init__(self, stack: LabStack, lab: NfsLab, config: SoakConfig) -> None:
        self.stack = stack
        self.lab = lab
        self.config = config
        self.rng = random.Random(config.seed)
        self.report = SoakReport(seed=config.seed)
        self.model = ExportModel(lab.export)
        self.workload = Workload(lab, self.model, self.rng, self.report, max_dirs=config.max_dirs)
        self.view = ViewReader(stack)
        self.model.probe = self.view.present
        self._since_check = 0

    # -- running ----------------------------------------------------------------------------

    def run(self) -> SoakReport:
        (self.lab.export / ROOT.lstrip("/")).mkdir(exist_ok=True)
        faults = self._fault_plan()
        marks = sorted(faults)
        started = time.monotonic()
        done = 0
        for mark in [*marks, self.config.operations]:
            self.operations(mark - done)
            done = mark
            if mark in faults:
                name, action = faults[mark]
                began = time.monotonic()
                action()
                self.report.faults.append(f"{name} at op {mark} ({time.monotonic() - began:.1f} s)")
        self.report.workload_s = time.monotonic() - started
        self.converge()
        export = export_nodes(self.lab.export)
        self.report.files = sum(1 for n in export.values() if not n[0])
        self.report.dirs = sum(1 for n in export.values() if n[0])
        self.view.close()
        return self.report

    def operations(self, count: int) -> None:
        for _ in range(max(0, count)):
            self.workload.step()
            self._since_check += 1
            if self._since_check >= self.config.sample_every:
                self._since_check = 0
                self.check_resurrections()

    def operations_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.operations(5)

    def check_resurrections(self, most: int = 25) -> None:
        """Deleted paths the view has shown gone must stay gone; newly deleted ones are watched.

        A round stops at the first question Fusion cannot answer (down, frozen, loading)."""
        model = self.model
        for path in self._some(model.confirmed_gone, most):
            present = self.view.present(path)
            if present is None:
                return
            self.report.checks += 1
            if present and path not in self.report.resurrected:
                self.report.resurrected.append(path)
                self.report.details.append(self._explain(path))
        for path in self._some(model.watched - model.confirmed_gone, most):
            present = self.view.present(path)
            if present is None:
                return
            if not present:
                model.confirmed_gone.add(path)
                model.note(path, "seen gone in the view")

    def _explain(self, path: str) -> str:
        """Everything known about a path that came back: its history, the view's node and
        parent, and whether the export holds it after all (then the model was wrong)."""
        on_export = (self.lab.export / path.lstrip("/")).exists()
        node = self.view.node(path)
        parent = self.view.node(os.path.dirname(path))
        stats = self.view.stats() or {}
        return (
            f"[t={time.time():.3f} clock_skew_s={stats.get('clock_skew_s')}"
            f" rows_dropped={stats.get('rows_dropped')}] "
            f"{path}: back in the view at {self.model.now} (on the export: {on_export});"
            f" history: {'; '.join(self.model.history.get(path, []))}; view node: {node};"
            f" view parent: {parent}; faults so far: {'; '.join(self.report.faults) or 'none'}"
        )

    def _some(self, paths: set[str], most: int) -> list[str]:
        ordered = sorted(paths)
        return ordered if len(ordered) <= most else self.rng.sample(ordered, most)

    # -- the fault plan ---------------------------------------------------------------------

    def _fault_plan(self) -> dict[int, tuple[str, Callable[[], None]]]:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("fusion killed and restarted", self.kill_fusion),
            ("agent frozen past the session timeout", self.freeze_an_agent),
            ("agent stopped while files are deleted", self.delete_while_an_agent_is_down),
            ("leader killed, overflow on the new leader", self.kill_leader_then_overflow),
            ("fusion unreachable", self.pause_fusion),
            ("I/O errors on host a's mount during an audit", self.io_errors_on_host_a),
        ]
        total = self.config.operations
        return {int(total * (i + 1) / (len(steps) + 1)): step for i, step in enumerate(steps)}

    def _agent_hosts(self) -> list[str]:
        return sorted(self.stack.agents)

    def leader_host(self) -> str | None:
        try:
            roles = self.stack.roles()
        except httpx.HTTPError:
            return None
        for host in self._agent_hosts():
            if roles.get(f"host-{host}") == "leader":
                return host
        return None

    def wait_for_a_leader(self, timeout: float = 30.0) -> str:
        return str(self.stack.wait(self.leader_host, timeout, "an agent to lead"))

    def kill_fusion(self) -> None:
        fusion = self.stack.fusion
        assert fusion is not None
        fusion.kill()
        self.operations(self.config.operations // 50)
        self.stack.start_fusion()
        self.wait_for_a_leader()

    def pause_fusion(self) -> None:
        fusion = self.stack.fusion
        assert fusion is not None
        _signal(fusion, signal.SIGSTOP)
        try:
            self.operations_for(self.config.fusion_pause_s)
        finally:
            _signal(fusion, signal.SIGCONT)
        self.wait_for_a_leader()

    def freeze_an_agent(self) -> None:
        host = self.leader_host() or "a"
        agent = self.stack.agents[host]
        _signal(agent, signal.SIGSTOP)
        try:
            self.operations_for(self.config.agent_freeze_s)
        finally:
            _signal(agent, signal.SIGCONT)
        self.wait_for_a_leader()

    def delete_while_an_agent_is_down(self) -> None:
        host = self.leader_host() or "a"
        agent = self.stack.agents[host]
        agent.stop()
        self.workload.delete_some("c", max(10, self.config.operations // 20))
        self.operations(self.config.operations // 40)
        time.sleep(2.5)  # past the agent's racy window: the deletions are older than 2 s
        self.stack.start_agent(host)
        self.wait_for_a_leader()

    def kill_leader_then_overflow(self) -> None:
        leader = self.wait_for_a_leader()
        follower = next(host for host in self._agent_hosts() if host != leader)
        with _inotify_queue(self.config.overflow_queue) as lowered:
            self.stack.agents[follower].restart()  # its new inotify queue is short ...
            self.stack.wait(  # ... once its realtime mode has created it
                lambda: (
                    self.stack.agent_pipe(follower)["modes"].get("realtime", {}).get("state") == "watching"
                ),
                20,
                f"host {follower} to watch",
            )
        self.stack.agents[leader].kill()
        self.stack.wait(lambda: self.leader_host() == follower, 30, f"host {follower} to take over")
        self.stack.start_agent(leader)
        if not lowered:
            self.report.faults.append("(overflow skipped: cannot lower the inotify queue without root)")
            return
        victim = self.stack.agents[follower]
        before = self.overflows(follower)
        _signal(victim, signal.SIGSTOP)
        try:
            self.workload.burst(follower, self.config.overflow_burst)
        finally:
            _signal(victim, signal.SIGCONT)
        self.stack.wait(
            lambda: self.overflows(follower) > before, 20, f"an inotify overflow on host {follower}"
        )
        self.report.overflows += self.overflows(follower) - before
        self.wait_for_a_leader()

    def overflows(self, host: str) -> int:
        """The inotify queue overflows the agent on ``host`` has counted."""
        return int(self.stack.agent_pipe(host)["source"]["counters"].get("overflows", 0))

    def io_errors_on_host_a(self) -> None:
        """Stats and listings fail on host a's mount in a few directories while its agent
        audits (if it leads) and the workload goes on through the other hosts: nothing that
        could not be read may be taken for deleted."""
        try:
            faults = self.lab.faults("a")
        except KeyError:
            self.report.faults.append("(I/O errors skipped: host a is not mounted through faultfs)")
            return
        directories = self.rng.sample(sorted(self.model.dirs - {ROOT}), min(6, len(self.model.dirs) - 1))
        for i, directory in enumerate(directories):
            if i % 3 == 0:
                faults.fail(f"{directory}/*", "getattr", error="EIO")
            elif i % 3 == 1:
                faults.fail(directory, "readdir", error="EIO")
            else:
                faults.fail(f"{directory}/*", "getattr", error="ESTALE")
        hosts, self.workload.hosts = self.workload.hosts, ("b", "c")
        others = [host for host in self._agent_hosts() if host != "a"]
        try:
            if self.leader_host() != "a":  # the audit must run on host a: its peers step aside
                for host in others:
                    self.stack.agents[host].stop()
                self.stack.wait(lambda: self.leader_host() == "a", 30, "host a to lead")
            self.stack.run_now("a", "audit", timeout=60)
            self.operations_for(self.config.eio_s)
        finally:
            faults.clear()
            self.workload.hosts = hosts
            for host in others:
                if not self.stack.agents[host].alive:
                    self.stack.start_agent(host)
        self.report.io_errors += len(faults.hits())

    # -- the end ----------------------------------------------------------------------------

    def converge(self) -> None:
        """One audit and one deep audit on the leader, then compare until equal or timed out."""
        finished = time.monotonic()
        deadline = finished + self.config.converge_timeout_s
        leader = self.wait_for_a_leader(60)
        self.stack.wait_first_scan(leader, 60)
        self.stack.run_now(leader, "audit", timeout=60)
        self.run_deep_audit(leader)
        differences = Differences(missing=["(never compared)"])
        while time.monotonic() < deadline:
            view = self.view.everything()
            if view is not None:
                differences = compare(view, export_nodes(self.lab.export))
                if differences.total == 0:
                    self.report.converge_s = time.monotonic() - finished
                    break
            time.sleep(0.5)
        self.report.differences = differences
        for path in [*differences.extra, *differences.missing, *differences.size, *differences.mtime][:10]:
            real = self.lab.export / path.lstrip("/")
            on_export = os.lstat(real) if os.path.lexists(real) else None
            parent = os.path.dirname(path)
            real_parent = self.lab.export / parent.lstrip("/")
            self.report.details.append(
                f"{path}: view {self.view.node(path)}; export"
                f" {(on_export.st_size, on_export.st_mtime) if on_export else None}; view parent"
                f" {self.view.node(parent)}; export parent mtime"
                f" {real_parent.stat().st_mtime if real_parent.exists() else None};"
                f" history: {'; '.join(self.model.history.get(path, []))}"
            )

    def run_deep_audit(self, host: str) -> None:
        before = self.stack.mode_runs(host, "audit")
        answer = self.stack.http.post(
            f"http://127.0.0.1:{self.stack.agent_ports[host]}/api/v1/pipes/{DATASTORE}/audit",
            json={"deep": True},
            headers={"Authorization": "Bearer lab-agent-token"},
        )
        assert answer.status_code == 202, answer.text
        self.stack.wait(lambda: self.stack.mode_runs(host, "audit") > before, 60, "the deep audit")


def soak_settings() -> tuple[dict[str, Any], dict[str, Any]]:
    """Fusion and agent settings for a soak: short intervals so one audit and one deep cycle
    happen in seconds."""
    fusion = {"session_timeout_s": 3, "hot_window_s": 4}
    agent = {"modes": {"audit": {"interval_s": 8, "deep_period_s": 40}, "sentinel": {"interval_s": 1}}}
    return fusion, agent
