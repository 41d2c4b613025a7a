"""Whole-repository test setup.

Fusion keeps a journal under ``$FUSTOR_HOME`` by default. A test run must never write into the
developer's real home (nor share one journal between two test runs), so the run gets its own
``FUSTOR_HOME`` unless the caller chose one; tests that start Fusion still give each instance its
own ``journal.path`` or ``FUSTOR_HOME`` (two Fusions on one journal directory refuse to start).
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_OWN_HOME: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _OWN_HOME
    if "FUSTOR_HOME" not in os.environ:
        _OWN_HOME = tempfile.mkdtemp(prefix="fustor-test-home-")
        os.environ["FUSTOR_HOME"] = _OWN_HOME


def pytest_unconfigure(config: pytest.Config) -> None:
    if _OWN_HOME is not None:
        shutil.rmtree(_OWN_HOME, ignore_errors=True)
