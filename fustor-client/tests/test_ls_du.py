"""``fustor ls`` and ``fustor du`` against a real Fusion holding a real tree."""

from __future__ import annotations

import math
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from clientkit import Fusion, fustor, lines, rows_of, serve_fusion
from sample_tree import UPLOAD_ID, build


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fusion, Path]]:
    root = tmp_path_factory.mktemp("tree")
    build(root)
    with serve_fusion() as fusion:
        fusion.ingest().send(rows_of(root))
        yield fusion, root


def file_bytes(folder: Path) -> tuple[int, int]:
    """(sum of file sizes, files + directories) below ``folder``, by walking it."""
    total, count = 0, 0
    for here, dirs, files in os.walk(folder):
        count += len(dirs) + len(files)
        total += sum(Path(here, name).lstat().st_size for name in files)
    return total, count


def test_ls_lists_children_in_name_order(tree: tuple[Fusion, Path]) -> None:
    fusion, root = tree
    assert lines(fustor(fusion, "ls", "/data")) == sorted(os.listdir(root / "data"))


def test_ls_long_shows_marks_size_and_mtime(tree: tuple[Fusion, Path]) -> None:
    fusion, _ = tree
    listing = {line.split()[-1]: line.split() for line in lines(fustor(fusion, "ls", "-l", "/data/ages"))}
    fresh = listing["age30.log"]
    assert fresh[0] == "-S--"  # a file, suspect (younger than the hot window), not a blind spot
    assert fresh[1] == "30"
    old = listing[f"age{10 * 86400}.log"]
    assert old[0] == "----"
    dirs = {line.split()[-1]: line.split()[0] for line in lines(fustor(fusion, "ls", "-l", "/data"))}
    assert dirs["sizes/"].startswith("d")


def test_ls_human_sizes_and_a_file(tree: tuple[Fusion, Path]) -> None:
    fusion, _ = tree
    listing = {
        line.split()[-1]: line.split()[1] for line in lines(fustor(fusion, "ls", "-lh", "/data/sizes"))
    }
    assert listing["s1025.bin"] == "1.1K"
    assert listing["s1048577.bin"] == "1.1M"
    assert listing["s3000000.bin"] == "2.9M"
    one = lines(fustor(fusion, "ls", "-l", "/data/sizes/s513.bin"))
    assert len(one) == 1 and one[0].split()[1] == "513" and one[0].endswith("/data/sizes/s513.bin")


def test_du_summary_is_the_sum_of_the_file_sizes(tree: tuple[Fusion, Path]) -> None:
    fusion, root = tree
    total, count = file_bytes(root / "data")
    assert lines(fustor(fusion, "du", "-sb", "/data")) == [f"{total}\t/data"]
    assert lines(fustor(fusion, "du", "-s", "/data")) == [f"{math.ceil(total / 1024)}\t/data"]
    assert lines(fustor(fusion, "du", "-s", "--inodes", "/data")) == [f"{count + 1}\t/data"]
    assert lines(fustor(fusion, "du", "-sh", "/data")) == ["5.9M\t/data"]  # 6,159,263 bytes


@pytest.mark.parametrize("name", ["s1025.bin", "s1048575.bin", "s1048577.bin", "s3000000.bin"])
def test_du_of_a_file_prints_what_gnu_du_prints(tree: tuple[Fusion, Path], name: str) -> None:
    fusion, root = tree
    for flags in (["-h"], ["-b"], []):
        gnu = subprocess.run(
            ["du", "--apparent-size", *flags, name], cwd=root / "data/sizes", capture_output=True, text=True
        )
        ours = lines(fustor(fusion, "du", *flags, f"/data/sizes/{name}"))
        assert [line.replace(f"/data/sizes/{name}", name) for line in ours] == gnu.stdout.splitlines()


def test_du_lists_directories_children_first(tree: tuple[Fusion, Path]) -> None:
    fusion, root = tree
    out = lines(fustor(fusion, "du", "-b", "/data/upload"))
    expected = []
    for folder in (f"/data/upload/{UPLOAD_ID}/part 1", f"/data/upload/{UPLOAD_ID}", "/data/upload"):
        expected.append(f"{file_bytes(root / folder.lstrip('/'))[0]}\t{folder}")
    assert out == expected
    shallow = lines(fustor(fusion, "du", "-b", "--max-depth", "1", "/data/upload"))
    assert shallow == expected[1:]


def test_du_default_lists_every_directory_once(tree: tuple[Fusion, Path]) -> None:
    fusion, root = tree
    printed = [line.split("\t")[1] for line in lines(fustor(fusion, "du", "/data"))]
    on_disk = ["/" + str(Path(here).relative_to(root)) for here, _, _ in os.walk(root / "data")]
    assert sorted(printed) == sorted(on_disk)
    assert printed[-1] == "/data"
