"""The services' process-wide garbage-collector settings."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from fustor_core.runtime import GC_THRESHOLDS, tune_garbage_collection


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restored_gc")
def test_tuning_freezes_what_exists_and_raises_the_thresholds() -> None:
    long_lived = [object() for _ in range(10)]
    tune_garbage_collection()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() > len(long_lived)  # start-up objects are out of the collector's sight
