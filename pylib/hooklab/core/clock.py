"""Clocks as the cores see them: a protocol, and a clock that moves only when told to.

Cores never read a clock; adapters do, and pass ``now`` in. The wall clocks live in
:mod:`hooklab.live.clocks`, the virtual one in :mod:`hooklab.sim.engine`.
"""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    """Anything with ``now() -> float`` (seconds, Unix epoch for the wall clock)."""

    def now(self) -> float: ...


class ManualClock:
    """A clock that moves only when told to. For unit tests and step-by-step demos."""

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
