"""A's capacity in the simulation: a few workers, each event taking a service time.

Without it the simulated A handles every webhook the moment it arrives, however many arrive: it has
no capacity to exceed. With it A is a queue (Kendall's G/M/c or G/D/c): an arriving event waits
until one of ``workers`` is free, is served for ``service_s`` (fixed, or exponentially distributed
with that mean), and only then answered. B gives up on an attempt after ``timeout_s``: an answer
later than that counts as a failure and B sends the event again, while A still finishes the first
copy (a retry storm). The model is checked against queueing theory (M/M/1 and M/D/1 mean waits)
in ``tests/test_sim_capacity.py``.

With ``ack="inbox"`` A answers once the event is stored (``ack_s`` later), and the workers apply it
afterwards: B sees a fast answer however long the queue, and the queue is A's inbox. With
``max_backlog`` A refuses new events while that many wait in its inbox: ``503`` with ``Retry-After:
retry_after_s`` (back-pressure), storing nothing; B waits at least that long before the next attempt.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

#: When A answers a webhook: after the work (``inline``) or once the event is stored (``inbox``).
ACKS = ("inline", "inbox")


@dataclass(frozen=True)
class Capacity:
    """``workers`` events at once, each taking ``service_s`` (``exponential``: its mean); B gives up
    on an attempt not answered within ``timeout_s`` of being sent. ``ack``, ``ack_s``,
    ``max_backlog``, ``retry_after_s``: the inbox and back-pressure (the module's docstring)."""

    workers: int = 1
    service_s: float = 0.01
    exponential: bool = True
    timeout_s: float = math.inf
    ack: str = "inline"
    ack_s: float = 0.002
    max_backlog: int | None = None
    retry_after_s: float = 1.0

    def __post_init__(self) -> None:
        if self.workers < 1 or not self.service_s > 0 or not self.timeout_s > 0:
            raise ValueError(f"workers >= 1, service_s > 0 and timeout_s > 0, got {self}")
        if self.ack not in ACKS or not self.ack_s >= 0 or not self.retry_after_s >= 0:
            raise ValueError(f"ack one of {ACKS}, ack_s >= 0 and retry_after_s >= 0, got {self}")
        if self.max_backlog is not None and (self.ack != "inbox" or self.max_backlog < 1):
            raise ValueError(f"max_backlog (>= 1) needs ack='inbox' (a backlog is an inbox), got {self}")


@dataclass
class Workers:
    """The running queue: when each worker is next free, and every event's wait before service."""

    capacity: Capacity
    rng: np.random.Generator
    free_at: list[float] = field(init=False)  # a heap: the earliest free worker first
    waits: list[float] = field(init=False, default_factory=list)
    _done_at: list[float] = field(init=False, default_factory=list)  # a heap: admitted, not yet done

    def __post_init__(self) -> None:
        self.free_at = [0.0] * self.capacity.workers

    def backlog(self, now: float) -> int:
        """Events admitted and not yet done at ``now`` (waiting or being served)."""
        while self._done_at and self._done_at[0] <= now:
            heapq.heappop(self._done_at)
        return len(self._done_at)

    def admit(self, now: float) -> float:
        """An event arriving at ``now``: when its service ends (first come, first served)."""
        start = max(now, self.free_at[0])
        c = self.capacity
        service = self.rng.exponential(c.service_s) if c.exponential else c.service_s
        heapq.heapreplace(self.free_at, start + service)
        heapq.heappush(self._done_at, start + service)
        self.waits.append(start - now)
        return start + service
