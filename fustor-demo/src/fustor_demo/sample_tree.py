"""A small sample tree in the shape of a sequencing upload area, for the demo."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

UPLOADS = 12
SUBDIRS = 4
FILES_PER_SUBDIR = 60
"""12 × 4 × 60 = 2,880 data files (plus one manifest per upload): a few thousand, as a demo needs."""


SETTLED_AGE_S = 86_400
"""Every upload but the last is a day old, as in an upload area; the last one is still fresh,
so the demo shows both settled files and suspects."""


def generate_sample_tree(root: Path) -> int:
    """Create ``/upload/submit/{c1}/{c2}/{uuid}/sub_{k}/data_{n}.dat`` under ``root``.

    Idempotent: files that exist are left alone. Returns the number of files in the tree.
    """
    count = 0
    settled = time.time() - SETTLED_AGE_S
    for i in range(UPLOADS):
        fresh = i == UPLOADS - 1
        upload_id = str(uuid.UUID(int=(i + 7) * 0x9E3779B97F4A7C15F39CC0605CEDC834 % (1 << 128), version=4))
        upload = root / "upload" / "submit" / upload_id[:2] / upload_id[2:4] / upload_id
        for k in range(SUBDIRS):
            subdir = upload / f"sub_{k}"
            subdir.mkdir(parents=True, exist_ok=True)
            for n in range(FILES_PER_SUBDIR):
                path = subdir / f"data_{n}.dat"
                if not path.exists():
                    path.write_bytes(os.urandom(64 + (n * 37) % 512))
                    if not fresh:
                        os.utime(path, (settled, settled))
                count += 1
        manifest = upload / "MANIFEST.txt"
        if not manifest.exists():
            manifest.write_text(f"upload {upload_id}\n{SUBDIRS * FILES_PER_SUBDIR} data files\n")
            if not fresh:
                os.utime(manifest, (settled, settled))
        count += 1
    return count


def first_upload_dir(root: Path) -> str | None:
    """The datastore path of one upload directory, for the printed example queries."""
    submit = root / "upload" / "submit"
    if not submit.is_dir():
        return None
    for c1 in sorted(submit.iterdir()):
        for c2 in sorted(c1.iterdir()) if c1.is_dir() else []:
            for upload in sorted(c2.iterdir()) if c2.is_dir() else []:
                return "/" + upload.relative_to(root).as_posix()
    return None
