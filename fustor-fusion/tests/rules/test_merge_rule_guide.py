"""The rule in docs/write-a-merge-rule.md works as printed: its code block is loaded as a
plugin next to the default rules and driven through the engine."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "write-a-merge-rule.md"


def guide_rule() -> types.ModuleType:
    """The guide's first Python block, as the module a reader would save."""
    first_block = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)[0]
    module = types.ModuleType("quarantine")
    exec(compile(first_block, str(GUIDE), "exec"), module.__dict__)
    return module


def test_guide_quarantine_rule_holds_scanned_files_until_realtime_sees_them(make_feed: Any) -> None:
    feed = make_feed(extra=[guide_rule()])
    held = feed.snapshot(feed.file("/incoming/run1.fastq", 1_000_000.0), feed.file("/done/x", 1_000_000.0))
    assert held.reasons == {"quarantined": 1}
    assert not feed.exists("/incoming/run1.fastq") and feed.exists("/done/x")
    assert feed.stat("quarantined") == 1

    feed.realtime("insert", feed.file("/incoming/run1.fastq", 1_000_000.0))
    assert feed.exists("/incoming/run1.fastq")
    assert feed.stat("quarantined") == 0
