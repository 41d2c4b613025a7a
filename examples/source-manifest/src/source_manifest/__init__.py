"""Source driver ``manifest``: the tree a text file lists (one path a line, directories end with
``/``), for exports the agent cannot walk but that publish their own listing. Each scan reads
the file again; nothing is watched, so changes arrive with the next audit."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from fustor_core import hookimpl
from fustor_core.agent_api import RegisterSource, RowDict, SentinelCheck
from fustor_core.config import FustorConfig, parse_config


class ManifestOptions(FustorConfig):
    manifest: Path  # pipes.N.source.manifest in agent.yaml


class ManifestSource:
    def __init__(self, options: ManifestOptions) -> None:
        self.manifest, self.uri = options.manifest, f"manifest://{options.manifest}"

    def scan(self, *args: Any, **kwargs: Any) -> Iterator[list[RowDict]]:  # snapshot and audit
        mtime, rows = self.manifest.stat().st_mtime, [{"path": "/", "is_dir": True}]
        for line in self.manifest.read_text().split():
            path = "/" + line.strip("/")
            parent = path.rpartition("/")[0] or "/"
            rows.append({"path": path, "is_dir": line.endswith("/"), "mtime": mtime, "parent_path": parent})
        yield rows

    snapshot = audit = scan

    def watch(self, stop: threading.Event, ready: Callable[[], None], batch_size: int) -> Iterator[Any]:
        ready()  # nothing to capture: the next audit finds every change
        stop.wait()
        yield from ()

    def recheck(self, paths: Sequence[str]) -> list[SentinelCheck]:
        listed = {row["path"] for row in next(self.scan())}
        return [{"path": path, "exists": path in listed} for path in paths]

    def counters(self) -> dict[str, int]:
        return {}

    stat_errors = counters

    def close(self) -> None:
        pass


@hookimpl
def fustor_source_drivers(register: RegisterSource) -> None:
    register(
        "manifest", lambda section: ManifestSource(parse_config(ManifestOptions, section, source="source"))
    )
