"""Wall clocks for live runs: real time, and real time shifted forward for replay demos."""

from __future__ import annotations

import time


class WallClock:
    """Real time: ``time.time()``. Shared by both systems in a live run, so latencies compare."""

    def now(self) -> float:
        return time.time()


class ShiftableClock:
    """The wall clock plus an offset that only grows: ``shift(301)`` is "five minutes later".

    Give it to System A (``ShopService(..., clock=clock)``) to replay a request *after* the
    tolerance window without waiting for it.
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
