"""A small real directory tree with the sizes and ages that find's rounding rules tell apart."""

from __future__ import annotations

import os
import time
from pathlib import Path

UPLOAD_ID = "5f0c2d3e-8a41-4b7e-9d2a-1c3b4a5d6e7f"
SIZES = [0, 1, 511, 512, 513, 1023, 1024, 1025, 2047, 1048575, 1048576, 1048577, 3_000_000]
AGES_S = [30, 90, 150, 36 * 3600, 60 * 3600, 10 * 86400]
"""Each well inside a minute or a day, so that GNU find and fustor, started a moment apart,
put every file on the same side of every boundary."""


def build(root: Path) -> Path:
    """Fill ``root/data`` and return it; every file's mtime is set (relative to now)."""
    now = time.time()
    data = root / "data"
    sizes = data / "sizes"
    ages = data / "ages"
    upload = data / "upload" / UPLOAD_ID
    for folder in (sizes, ages, upload / "part 1", data / "empty dir"):
        folder.mkdir(parents=True)
    for size in SIZES:
        (sizes / f"s{size}.bin").write_bytes(b"x" * size)
    for age in AGES_S:
        (ages / f"age{age}.log").write_bytes(b"a" * (age % 1000))
    stamp_ages(data)
    for i in range(3):
        (upload / "part 1" / f"chunk{i}.dat").write_bytes(b"u" * (1000 * (i + 1)))
    (upload / "manifest.json").write_text("{}")
    (data / "naïve name.txt").write_text("unicode")
    old = now - 7 * 86400
    for folder in (sizes, upload / "part 1", upload, data / "upload", data / "empty dir"):
        os.utime(folder, (old, old))
    for path in [*sizes.iterdir(), *(upload / "part 1").iterdir(), upload / "manifest.json"]:
        os.utime(path, (old, old))
    return data


def stamp_ages(data: Path) -> float:
    """Give each ``ages/age{N}.log`` the mtime now - N s again: a test comparing ages with GNU
    find calls this first, so the minutes since the tree was built cannot carry a file across
    a boundary between the two runs. Returns the "now" used."""
    now = time.time()
    for age in AGES_S:
        os.utime(data / "ages" / f"age{age}.log", (now - age, now - age))
    return now
