"""Clocks: every component reads time from one of these, never from ``time`` directly.

This is what lets one model run live (wall clock, real seconds) and simulated (virtual clock,
hours in milliseconds). Introduced in notebooks/01-api-polling.ipynb.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Anything with ``now() -> float`` (seconds, Unix epoch for the wall clock)."""

    def now(self) -> float: ...


class WallClock:
    """Real time: ``time.time()``. Shared by both systems in a live run, so latencies compare."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to. For unit tests and step-by-step demos.

    Introduced in notebooks/02-webhooks.ipynb.
    """

    def __init__(self, start: float = 0.0) -> None:
        self.t = float(start)

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError(f"a clock cannot go back (advance({seconds}))")
        self.t += seconds
        return self.t

    def set(self, t: float) -> None:
        if t < self.t:
            raise ValueError(f"a clock cannot go back (set({t}) < now {self.t})")
        self.t = float(t)


class ShiftableClock:
    """The wall clock plus an offset that only grows: ``shift(301)`` is "five minutes later".

    Give it to System A (``ShopService(..., clock=clock)``) to replay a request *after* the
    tolerance window without waiting for it. Introduced in notebooks/03-signature-verification.ipynb.
    """

    def __init__(self, offset_s: float = 0.0) -> None:
        self.offset_s = float(offset_s)

    def now(self) -> float:
        return time.time() + self.offset_s

    def shift(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError(f"a clock cannot go back (shift({seconds}))")
        self.offset_s += seconds
        return self.offset_s
