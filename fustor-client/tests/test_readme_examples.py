"""The README's "Command-line client" examples print what the README shows (times aside),
run as a person runs them against a real Fusion holding the tree they describe."""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path

from clientkit import fustor, serve_fusion

README = Path(__file__).resolve().parents[2] / "README.md"
UPLOAD = "/upload/submit/5f/0c/5f0c2d3e-8a41-4b7e-9d2a-1c3b4a5d6e7f"
OTHER = "/upload/submit/a1/b2/a1b2c3d4-0000-4000-8000-000000000002"
MIB = 1024 * 1024
TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")


def examples() -> list[tuple[list[str], list[str]]]:
    """(argv, expected lines) for each ``$ fustor`` line of the section whose output is fixed."""
    section = README.read_text().split("## Command-line client", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```console\n(.*?)```", section, flags=re.S)
    assert block is not None
    out: list[tuple[list[str], list[str]]] = []
    for chunk in block.group(1).split("$ ")[1:]:
        command, *printed = chunk.rstrip("\n").split("\n")
        argv = shlex.split(command)
        if argv[1] in ("wait", "watch"):
            continue  # their output depends on what happens meanwhile
        out.append((argv[1:], printed))
    return out


def normalized(lines: list[str]) -> list[list[str]]:
    return [TIME.sub("<time>", line).split() for line in lines]


def test_the_readme_examples_print_what_the_readme_shows() -> None:
    now = time.time()
    old, fresh = now - 86400 - 60, now - 60
    rows = [
        {"path": "/upload", "is_dir": True, "size": 4096, "mtime": old},
        {"path": UPLOAD, "is_dir": True, "size": 4096, "mtime": old},
        {"path": UPLOAD + "/sub_0", "is_dir": True, "size": 4096, "mtime": old},
        *({"path": f"{UPLOAD}/sub_0/data_{i}.dat", "size": MIB, "mtime": old} for i in range(3)),
        {"path": UPLOAD + "/sub_1", "is_dir": True, "size": 4096, "mtime": fresh},
        {"path": UPLOAD + "/sub_1/data_0.dat", "size": MIB, "mtime": fresh},
        {"path": UPLOAD + "/sub_1/data_1.dat", "size": MIB // 2, "mtime": old},
        {"path": OTHER + "/sub_0/data_0.dat", "size": 2 * MIB, "mtime": old},
    ]
    for row in rows:
        row.setdefault("is_dir", False)
    cases = examples()
    assert len(cases) >= 6
    with serve_fusion() as fusion:
        fusion.ingest().send(rows)
        for argv, printed in cases:
            result = fustor(fusion, *argv)
            assert result.returncode == 0, (argv, result.stderr)
            assert normalized(result.stdout.decode().splitlines()) == normalized(printed), argv
