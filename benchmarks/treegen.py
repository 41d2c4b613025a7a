"""The synthetic tree every benchmark uses, generated lazily and deterministically.

Shape: ``/upload/submit/{c1}/{c2}/{uuid}/sub_{k}/data_{n}.dat`` — by default 1,000 ``{uuid}``
directories × 4 ``sub_{k}`` × 250 files = 1,000,000 files in 4,000 leaf directories, which is what
an upload area of a sequencing site looks like.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from fustor_core.event_model import Event, EventType, MessageSource, Row


@dataclass(frozen=True)
class TreeShape:
    uploads: int = 1000
    subdirs: int = 4
    files_per_dir: int = 250
    base_mtime: float = 1_700_000_000.0

    @property
    def files(self) -> int:
        return self.uploads * self.subdirs * self.files_per_dir

    def upload_ids(self) -> list[str]:
        """Stable UUIDs (seeded), so every run and every benchmark sees the same tree."""
        return [
            str(uuid.UUID(int=(i + 1) * 0x9E3779B97F4A7C15_F39CC0605CEDC834 % (1 << 128), version=4))
            for i in range(self.uploads)
        ]

    def upload_dir(self, upload_id: str) -> str:
        return f"/upload/submit/{upload_id[:2]}/{upload_id[2:4]}/{upload_id}"

    def leaf_dirs(self) -> Iterator[str]:
        for upload_id in self.upload_ids():
            base = self.upload_dir(upload_id)
            for k in range(self.subdirs):
                yield f"{base}/sub_{k}"

    def file_rows(self) -> Iterator[tuple[str, int, float]]:
        """(path, size, mtime) for every file, directory by directory."""
        n = 0
        for leaf in self.leaf_dirs():
            for i in range(self.files_per_dir):
                yield f"{leaf}/data_{i}.dat", 1000 + (n % 4096), self.base_mtime + (n % 86_400)
                n += 1


def snapshot_event(chunk: Iterable[tuple[str, int, float]]) -> Event:
    """A snapshot insert event of file rows, built without validation (the input is known good,
    and the benchmarks time ingest, not pydantic)."""
    rows = [
        Row.model_construct(
            path=p, is_dir=False, size=s, mtime=m, parent_path=None, parent_mtime=None, audit_skipped=False
        )
        for p, s, m in chunk
    ]
    return Event.model_construct(
        message_source=MessageSource.SNAPSHOT, event_type=EventType.INSERT, index=0, rows=rows
    )


@contextlib.contextmanager
def smoke_tree_root(args: argparse.Namespace, *, prefix: str, replace_given: bool = False) -> Iterator[None]:
    """Under ``--smoke``, point ``args.root`` at a throwaway directory, removed afterwards.

    A smoke run builds a tiny tree; it must never be written where a full run keeps its 1 M-file
    tree. ``replace_given`` also replaces a root that has a default (or was given).
    """
    if not args.smoke or (args.root is not None and not replace_given):
        yield
        return
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    args.root = str(scratch / "tree")
    try:
        yield
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
