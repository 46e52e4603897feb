"""The event loop: a heap of timed callbacks on a virtual clock, and nothing else.

:class:`Environment` is SimPy's ``Environment`` reduced to what this project needs: schedule a
callback at a time (:meth:`~Environment.at`), run the next one (:meth:`~Environment.step`), run
until a time (:meth:`~Environment.run`). The clock jumps from one callback to the next, so an idle
hour costs nothing. What the callbacks do (the two cores, the network, workloads, strategies)
lives in :mod:`hooklab.sim.world` and the modules beside it.

Why a heap of callbacks and not SimPy
-------------------------------------
SimPy (processes as generators, ``yield env.timeout(...)``) is the established library and was
the first choice. Measured on the reference 2-core machine (``benchmarks/bench_sim.py`` prints
the comparison): 100 records polled every 10 s for an hour, three events per poll (send, arrive
at B, answer at A) and no model work at all, take about twice as long in SimPy as with ``heapq``.
The cores were written sans-I/O, each saying *when* it next needs attention
(``PaymentProvider.next_wakeup``, ``PollSchedule.next_at``): that maps one to one onto "push a
callback at that time". Decision record: docs/decisions/0001-simulation-event-loop.md.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import itertools
import math
from collections.abc import Callable

_INF = math.inf


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector (see :meth:`Environment.run`)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


class SimClock:
    """Virtual time: ``now()`` is the simulation's current time in seconds since it began."""

    __slots__ = ("t",)

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t


class Environment:
    """Timed callbacks in time order; ties run in the order they were scheduled."""

    def __init__(self) -> None:
        self.clock = SimClock()
        self._heap: list[tuple[float, int, Callable, object]] = []
        self._seq = itertools.count().__next__  # tie-breaker: equal times run in scheduling order

    def at(self, t: float, fn: Callable[[object], object], arg: object = None) -> None:
        """Run ``fn(arg)`` at virtual time ``t``."""
        heapq.heappush(self._heap, (t, self._seq(), fn, arg))

    def pending(self) -> int:
        """How many callbacks are scheduled."""
        return len(self._heap)

    def step(self) -> bool:
        """Run the next callback (and its follow-ups); ``False`` if there is none."""
        if not self._heap:
            return False
        self.run(until=self._heap[0][0], limit=1)
        return True

    def run(self, until: float = _INF, limit: int | None = None) -> float:
        """Run callbacks in time order until none is left or the next is after ``until``.

        A callback may return a follow-up ``(t, fn, arg)`` instead of scheduling it with
        :meth:`at`. If it is due before everything already scheduled (and not after ``until``)
        it runs at once, sparing the heap a push and a pop (most of a request's steps go this
        way); otherwise it is scheduled like any other. The order is the same either way.

        Python's cyclic garbage collector is paused meanwhile: the loop allocates millions of
        short-lived tuples and makes no reference cycles, and the collector's passes over a
        growing request log cost about a quarter of the run time (measured).
        """
        heap, clock, pop, push, seq = self._heap, self.clock, heapq.heappop, heapq.heappush, self._seq
        with gc_paused():
            while heap and limit != 0:
                if heap[0][0] > until:
                    break
                t, _, fn, arg = pop(heap)
                if limit is not None:
                    limit -= 1
                while True:
                    clock.t = t
                    follow = fn(arg)
                    if follow is None:
                        break
                    t, fn, arg = follow
                    if (heap and heap[0][0] <= t) or t > until:
                        push(heap, (t, seq(), fn, arg))
                        break
        return clock.t
