"""Clocks for live runs that threads can wait on: real time, real time shifted forward for replay
demos, and time that moves only when a test says so.

A's loops wait with ``clock.wait(event, seconds)``: until ``event`` is set or ``seconds`` of *that
clock's* time have passed. On the wall clock that is ``event.wait(seconds)``; on a
:class:`SteppedClock` it is until a test has advanced the clock far enough, so a test decides when
the next poll or reconciliation round comes instead of sleeping for it.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol


class WaitableClock(Protocol):
    """What live A's loops need of a clock: the time, and a wait measured in it."""

    def now(self) -> float: ...

    def wait(self, event: threading.Event, seconds: float | None) -> bool: ...


class WallClock:
    """Real time: ``time.time()``. Shared by both systems in a live run, so latencies compare."""

    def now(self) -> float:
        return time.time()

    def wait(self, event: threading.Event, seconds: float | None) -> bool:
        """Until ``event`` is set (``True``) or ``seconds`` pass (``False``)."""
        return event.wait(seconds)


class ShiftableClock:
    """The wall clock plus an offset that only grows: ``shift(301)`` is "five minutes later".

    Give it to System A (``ShopService(..., clock=clock)``) to replay a request *after* the
    tolerance window without waiting for it.
    """

    def __init__(self, offset_s: float = 0.0) -> None:
        self.offset_s = float(offset_s)

    def now(self) -> float:
        return time.time() + self.offset_s

    def wait(self, event: threading.Event, seconds: float | None) -> bool:
        return event.wait(seconds)

    def shift(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError(f"a clock cannot go back (shift({seconds}))")
        self.offset_s += seconds
        return self.offset_s


class SteppedClock:
    """Time that moves only when :meth:`advance` says so, and that threads can wait on: a loop's
    ``wait(event, seconds)`` returns when the event is set, or once the clock has been advanced
    ``seconds`` past the moment it began to wait. For tests: what happens at the next poll or round
    happens when the test advances the clock, not after a sleep."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._t = float(start)
        self._moved = threading.Condition()

    def now(self) -> float:
        with self._moved:
            return self._t

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError(f"a clock cannot go back (advance({seconds}))")
        with self._moved:
            self._t += seconds
            self._moved.notify_all()
            return self._t

    def wait(self, event: threading.Event, seconds: float | None) -> bool:
        with self._moved:
            deadline = math.inf if seconds is None else self._t + seconds
        while not event.is_set():
            with self._moved:
                if self._t >= deadline:
                    return False
                # wakes on advance(); a threading.Event cannot notify this condition, so it is also
                # looked at every 10 ms of real time
                self._moved.wait(0.01)
        return True
