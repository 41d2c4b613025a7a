"""Exponential backoff with jitter: many agents retrying after a Fusion restart must not march
in lockstep."""

from __future__ import annotations

import random


class Backoff:
    """Delays ``initial * 2**n`` capped at ``maximum``, each scaled by a random 0.5 to 1.0."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * (2**self.failures))
        self.failures += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0
