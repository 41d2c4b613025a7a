"""The README says what each kept screenshot shows: the names it describes are exactly the ones
the browser tests take (runs without a browser)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHOT = re.compile(r"`(\d\d-[a-z0-9-]+)`")


def _web_view_section() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Web view")
    return readme[start : readme.index("\n## ", start + 1)]


def test_every_screenshot_is_described_and_every_description_is_taken() -> None:
    described = set(SHOT.findall(_web_view_section()))
    source = (Path(__file__).parent / "test_web_view.py").read_text(encoding="utf-8")
    taken = set(re.findall(r'screenshot\(\s*\w+,\s*"(\d\d-[a-z0-9-]+)"', source))
    assert taken, "no screenshot found in the browser tests"
    assert described == taken, {"not described": taken - described, "never taken": described - taken}
