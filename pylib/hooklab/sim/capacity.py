"""A's capacity in the simulation: a few workers, each event taking a service time.

Without it the simulated A handles every webhook the moment it arrives, however many arrive: it has
no capacity to exceed. With it A is a queue (Kendall's G/M/c or G/D/c): an arriving event waits
until one of ``workers`` is free, is served for ``service_s`` (fixed, or exponentially distributed
with that mean), and only then answered. B gives up on an attempt after ``timeout_s``: an answer
later than that counts as a failure and B sends the event again, while A still finishes the first
copy (a retry storm). The model is checked against queueing theory (M/M/1 and M/D/1 mean waits)
in ``tests/test_sim_capacity.py``.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Capacity:
    """``workers`` events at once, each taking ``service_s`` (``exponential``: its mean); B gives up
    on an attempt not answered within ``timeout_s`` of being sent."""

    workers: int = 1
    service_s: float = 0.01
    exponential: bool = True
    timeout_s: float = math.inf

    def __post_init__(self) -> None:
        if self.workers < 1 or not self.service_s > 0 or not self.timeout_s > 0:
            raise ValueError(f"workers >= 1, service_s > 0 and timeout_s > 0, got {self}")


@dataclass
class Workers:
    """The running queue: when each worker is next free, and every event's wait before service."""

    capacity: Capacity
    rng: np.random.Generator
    free_at: list[float] = field(init=False)  # a heap: the earliest free worker first
    waits: list[float] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.free_at = [0.0] * self.capacity.workers

    def admit(self, now: float) -> float:
        """An event arriving at ``now``: when its service ends (first come, first served)."""
        start = max(now, self.free_at[0])
        c = self.capacity
        service = self.rng.exponential(c.service_s) if c.exponential else c.service_s
        heapq.heapreplace(self.free_at, start + service)
        self.waits.append(start - now)
        return start + service
