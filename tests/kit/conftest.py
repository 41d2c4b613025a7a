"""The test kit's own tests: its modules are imported by name, as the end-to-end tests do."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from pgserver import pg_server  # noqa: F401  (the fixture)
