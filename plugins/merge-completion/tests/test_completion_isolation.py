"""The plugin stands on fustor-core alone: importing it pulls in no other Fustor package."""

from __future__ import annotations

import subprocess
import sys

MODULE = "fustor_merge_completion"


def test_plugin_imports_nothing_from_fusion_or_other_plugins() -> None:
    probe = (
        f"import sys, {MODULE}; "
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('fustor_')}))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    assert loaded.stdout.strip() == str(sorted(["fustor_core", MODULE]))
