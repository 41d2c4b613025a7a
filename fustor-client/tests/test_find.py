"""``fustor find`` against GNU find on the same tree: the view is fed the tree's own ``lstat``s,
so every expression must select exactly the paths GNU find selects."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from clientkit import Fusion, fustor, lines, rows_of, serve_fusion
from sample_tree import UPLOAD_ID, build, stamp_ages

pytestmark = pytest.mark.skipif(shutil.which("find") is None, reason="GNU find is needed as the reference")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fusion, Path]]:
    root = tmp_path_factory.mktemp("tree")
    build(root)
    with serve_fusion() as fusion:
        fusion.ingest().send(rows_of(root))
        yield fusion, root


def restamp(fusion: Fusion, root: Path) -> float:
    """Re-stamp the ages files on disk and in the view (see ``stamp_ages``)."""
    now = stamp_ages(root / "data")
    fusion.ingest().send([row for row in rows_of(root) if row["path"].startswith("/data/ages/")])
    return now


def gnu_find(root: Path, start: str, *expression: str) -> set[str]:
    """GNU find on the tree, its paths (and absolute -path/-newer arguments) in datastore terms."""
    args = [
        str(root) + arg if prev in ("-path", "-newer") and arg.startswith("/") else arg
        for prev, arg in zip(("", *expression), expression, strict=False)
    ]
    out = subprocess.run(
        ["find", str(root) + start, *args], capture_output=True, check=True, text=True
    ).stdout
    return {line[len(str(root)) :] for line in out.splitlines()}


EXPRESSIONS = [
    [],
    ["-name", "*.dat"],
    ["-name", UPLOAD_ID],
    ["-path", "*/part 1/*"],
    ["-path", "/data/upload/*"],
    ["-type", "d"],
    ["-type", "f", "-name", "s*"],
    ["-type", "f", "-size", "-1M"],
    ["-type", "f", "-size", "1M"],
    ["-type", "f", "-size", "+1M"],
    ["-type", "f", "-size", "1k"],
    ["-type", "f", "-size", "+1k"],
    ["-type", "f", "-size", "-2k"],
    ["-type", "f", "-size", "2"],
    ["-type", "f", "-size", "0"],
    ["-type", "f", "-size", "-0"],
    ["-type", "f", "-size", "1025c"],
    ["-type", "f", "-size", "+1023c", "-size", "-1026c"],
    ["-type", "f", "-mmin", "-2"],
    ["-type", "f", "-mmin", "2"],
    ["-type", "f", "-mmin", "+2"],
    ["-type", "f", "-mtime", "0"],
    ["-type", "f", "-mtime", "1"],
    ["-type", "f", "-mtime", "+1"],
    ["-type", "f", "-mtime", "-2"],
    ["-type", "f", "-mtime", "+6", "-name", "*.log"],
]


@pytest.mark.parametrize("expression", EXPRESSIONS, ids=" ".join)
def test_find_selects_what_gnu_find_selects(tree: tuple[Fusion, Path], expression: list[str]) -> None:
    fusion, root = tree
    if {"-mmin", "-mtime"} & set(expression):
        restamp(fusion, root)
    ours = set(lines(fustor(fusion, "find", "/data", *expression)))
    assert ours == gnu_find(root, "/data", *expression)


def test_newer_compares_with_a_path_in_the_datastore(tree: tuple[Fusion, Path]) -> None:
    fusion, root = tree
    restamp(fusion, root)
    ref = "/data/ages/age150.log"
    ours = set(lines(fustor(fusion, "find", "/data", "-type", "f", "-newer", ref)))
    assert ours == gnu_find(root, "/data", "-type", "f", "-newer", ref)
    assert {"/data/ages/age30.log", "/data/ages/age90.log"} <= ours
    assert "/data/ages/age150.log" not in ours


def test_newer_takes_a_time(tree: tuple[Fusion, Path]) -> None:
    fusion, root = tree
    since = f"@{restamp(fusion, root) - 120}"
    ours = set(lines(fustor(fusion, "find", "/data/ages", "-type", "f", "-newer", since)))
    assert ours == {"/data/ages/age30.log", "/data/ages/age90.log"}


def test_print0_and_json(tree: tuple[Fusion, Path]) -> None:
    fusion, _ = tree
    zero = fustor(fusion, "find", "/data", "-name", "*.dat", "-print0")
    assert zero.returncode == 0
    assert zero.stdout.split(b"\0")[:-1] == [
        f"/data/upload/{UPLOAD_ID}/part 1/chunk{i}.dat".encode() for i in range(3)
    ]
    nodes = [
        json.loads(line) for line in lines(fustor(fusion, "find", "/data", "-name", "chunk1.dat", "-json"))
    ]
    assert [(n["path"], n["size"], n["is_dir"]) for n in nodes] == [
        (f"/data/upload/{UPLOAD_ID}/part 1/chunk1.dat", 2000, False)
    ]


def test_suspect_lists_fresh_files(tree: tuple[Fusion, Path]) -> None:
    """Files younger than the hot window (600 s) are suspect; week-old ones are not."""
    fusion, root = tree
    restamp(fusion, root)
    found = set(lines(fustor(fusion, "find", "/data", "-type", "f", "-suspect")))
    assert "/data/ages/age30.log" in found
    assert not any(path.startswith("/data/sizes/") for path in found)


def test_connection_options_anywhere(tree: tuple[Fusion, Path]) -> None:
    fusion, _ = tree
    after = fustor(
        None,
        "find",
        "/data",
        "-name",
        UPLOAD_ID,
        "--url",
        fusion.url,
        "--key=query-secret",
        "--datastore",
        "demo",
    )
    assert lines(after) == [f"/data/upload/{UPLOAD_ID}"]
    before = fustor(
        None, "find", f"--url={fusion.url}", "--key", "query-secret", "--datastore=demo", "/data/upload"
    )
    assert lines(before)[:2] == ["/data/upload", f"/data/upload/{UPLOAD_ID}"]


def test_without_a_path_find_starts_at_the_root(tree: tuple[Fusion, Path]) -> None:
    fusion, _ = tree
    assert lines(fustor(fusion, "find", "-name", UPLOAD_ID)) == [f"/data/upload/{UPLOAD_ID}"]


def test_find_help_is_text_not_a_search() -> None:
    result = fustor(None, "find", "/data", "--help")
    assert result.returncode == 0
    assert b"-size [+-]N[cwbkMG]" in result.stdout
