"""Workloads: when B's records change, seeded.

A workload creates the records (A asks B for them, ``POST /payments``) and then changes them at
its own times through B's core (``PaymentProvider.update_status``), or, for
:class:`Settlement`, lets B's core settle each payment once, as the live runs do.

Change times are drawn in *window time* (0 = start of the measured window) from streams fixed by
``(seed, record)`` alone, forward from 0 and backward from 0. So for one seed, record 7 changes
at the same moments in the measured window whatever the strategy, its warm-up or its drain:
comparisons between strategies are paired, change by change.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass

import numpy as np

from hooklab.sim.world import STREAM_CREATE, STREAM_WORKLOAD, Sim

#: Statuses a changing record cycles through (none final: these records never "settle").
CHANGE_STATUSES = ("processing", "requires_action", "pending")
#: Draws per numpy call when generating change times (fixed, so a stream's prefix never moves).
_CHUNK = 64


class Arrivals:
    """The times of a Poisson process of ``rate`` from 0 on, drawn gap by gap, ``_CHUNK`` gaps at
    a time, as far as asked, and kept. With ``accept``, thinned: a time ``t`` is kept with
    probability ``accept(t)`` (a process of rate ``rate * accept(t)``).

    Asking for ``[0, end)`` gives the same times whatever was asked before: a sweep that runs the
    same records twenty times draws each record's times once.
    """

    def __init__(self, rng: np.random.Generator, rate: float, accept=None) -> None:
        self.rng, self.rate, self.accept = rng, rate, accept
        self.times, self._t = np.empty(0), 0.0

    def before(self, end: float) -> np.ndarray:
        """The times in ``[0, end)``."""
        if self.rate <= 0 or end <= 0:
            return np.empty(0)
        if self._t < end:
            parts = [self.times]
            while self._t < end:
                times = self._t + np.cumsum(self.rng.exponential(1.0 / self.rate, _CHUNK))
                self._t = times[-1]
                if self.accept is not None:
                    times = times[self.rng.random(_CHUNK) < self.accept(times)]
                parts.append(times)
            self.times = np.concatenate(parts)
        return self.times[: np.searchsorted(self.times, end, side="left")]

    @property
    def reach(self) -> float:
        """How far the times are drawn: :meth:`before` up to here draws nothing more."""
        return math.inf if self.rate <= 0 else self._t


@functools.lru_cache(maxsize=4)
def _record_arrivals(workload: Workload, seed: int) -> dict[tuple, object]:
    """Each record's change processes (record, direction) of one workload and seed, kept between
    runs: runs that differ only in their strategy or interval read the same draws."""
    return {}


@dataclass(frozen=True)
class Plan:
    """A change workload's draws for one run: when each record is created (``offsets`` into the
    warm-up) and for how much, and every change in time order (window ``times``, record ``index``).
    """

    offsets: np.ndarray
    amounts: np.ndarray
    times: np.ndarray
    index: np.ndarray


class Workload:
    """Base class. ``install`` is called once, when the strategy is ready, at sim time ``t0``.

    Records are to be created during ``[t0, t0 + spread_s)``; the measured window starts at
    ``start_s`` (window time 0; after every record exists); changes are needed over window time
    ``[-lead_s, span_s)`` (``t0`` is at or after ``start_s - lead_s``). A *finite* workload ends by itself (the run
    goes on until quiet).
    """

    finite = False
    #: Mean changes per record per second (for theory and the summary), if the workload has one.
    rate_per_s: float | None = None

    def install(
        self,
        sim: Sim,
        records: int,
        *,
        t0: float,
        start_s: float,
        spread_s: float,
        lead_s: float,
        span_s: float,
    ) -> None:
        raise NotImplementedError


class ChangeWorkload(Workload):
    """Records created during the warm-up (at uniform random moments, so that polls are spread
    evenly over the interval), then changed at the times :meth:`change_times` gives, cycling through
    :data:`CHANGE_STATUSES`. Subclasses define only :meth:`change_times`.
    """

    def change_times(self, sim: Sim, records: int, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
        """Change times in window time ``[lo, hi)`` and the record index of each."""
        raise NotImplementedError

    def _per_record(
        self, sim: Sim, records: int, lo: float, hi: float, arrivals
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each record's changes in window time ``[lo, hi)``: a process forward from 0 and one
        backward from 0, ``arrivals(rng, sign)`` (+1 forward, -1 backward), from the record's streams."""
        kept = _record_arrivals(self, sim.seed)
        times, index = [np.empty(0)], [np.empty(0, dtype=np.int64)]
        for direction, sign, end in ((1, -1, -lo), (0, 1, hi)):
            if end <= 0:
                continue
            # every record's times so far, end to end: one cut serves all records while far enough
            packed = kept.get(("packed", records, direction))
            if packed is None or packed[2] < end:
                streams = []
                for i in range(records):
                    stream = kept.get((i, direction))
                    if stream is None:
                        stream = kept[i, direction] = arrivals(
                            sim.rng(STREAM_WORKLOAD, 0, i, direction), sign
                        )
                    stream.before(end)
                    streams.append(stream)
                counts = np.fromiter((len(st.times) for st in streams), np.int64, records)
                reach = min((st.reach for st in streams), default=math.inf)
                packed = kept["packed", records, direction] = (
                    np.concatenate([st.times for st in streams] or [np.empty(0)]),
                    np.repeat(np.arange(records), counts),
                    reach,
                )
            keep = packed[0] < end
            times.append(sign * packed[0][keep])
            index.append(packed[1][keep])
        return np.concatenate(times), np.concatenate(index)

    def plan(self, sim: Sim, records: int, *, spread_s: float, lead_s: float, span_s: float) -> Plan:
        """What :meth:`install` will do, as arrays (the arithmetic engine reads the same plan)."""
        offsets = sim.rng(STREAM_CREATE).random(records) * spread_s
        amounts = sim.rng(STREAM_CREATE, 1).integers(100, 50_000, records)
        times, index = self.change_times(sim, records, -lead_s, span_s)
        order = np.lexsort((index, times))
        return Plan(offsets, amounts, times[order], index[order])

    def install(
        self,
        sim: Sim,
        records: int,
        *,
        t0: float,
        start_s: float,
        spread_s: float,
        lead_s: float,
        span_s: float,
    ) -> None:
        start = start_s
        plan = self.plan(sim, records, spread_s=spread_s, lead_s=lead_s, span_s=span_s)
        offsets, amounts = plan.offsets, plan.amounts
        ids: list[str | None] = [None] * records

        def created_at_b(i: int):
            def hook(payment: dict) -> None:
                ids[i] = payment["id"]

            return hook

        for i in range(records):
            sim.at(
                t0 + offsets[i],
                lambda i: sim.create_payment(int(amounts[i]), at_b=created_at_b(i)),
                i,
            )
        times = (plan.times + start).tolist()
        index = plan.index.tolist()
        counts = [0] * records
        n = len(times)

        def change(k: int) -> None:
            i = index[k]
            pid = ids[i]
            if pid is not None:  # a change before B created the record did not happen
                sim.change_status(pid, CHANGE_STATUSES[counts[i] % len(CHANGE_STATUSES)])
                counts[i] += 1
            if k + 1 < n:
                sim.at(times[k + 1], change, k + 1)

        if n:
            sim.at(times[0], change, 0)


@dataclass(frozen=True)
class Poisson(ChangeWorkload):
    """Each record changes at the times of a Poisson process with ``rate_per_s`` (lambda).

    The textbook case: with polling every T seconds a change waits T/2 on average, and a poll
    finds nothing new with probability exp(-lambda*T).
    """

    rate_per_s: float = 1 / 60

    def __post_init__(self) -> None:
        if not self.rate_per_s >= 0:
            raise ValueError(f"rate_per_s must be >= 0, got {self.rate_per_s}")

    def change_times(self, sim, records, lo, hi):
        return self._per_record(sim, records, lo, hi, lambda rng, sign: Arrivals(rng, self.rate_per_s))


@dataclass(frozen=True)
class MixedPoisson(ChangeWorkload):
    """Records that change at different rates: record i is a Poisson process of
    ``rates_per_s[i % len(rates_per_s)]`` (how a polling budget is best spread: notebook 06)."""

    rates_per_s: tuple[float, ...] = (1 / 60, 1 / 3600)

    def __post_init__(self) -> None:
        if not self.rates_per_s or any(not r >= 0 for r in self.rates_per_s):
            raise ValueError(f"rates_per_s must be a non-empty tuple of rates >= 0, got {self.rates_per_s}")

    @property
    def rate_per_s(self) -> float:  # type: ignore[override]
        return sum(self.rates_per_s) / len(self.rates_per_s)

    def rate_of(self, record: int) -> float:
        return self.rates_per_s[record % len(self.rates_per_s)]

    def change_times(self, sim, records, lo, hi):
        times, index = [np.empty(0)], [np.empty(0, dtype=np.int64)]
        for i in range(records):
            rate = self.rate_of(i)
            for direction, sign, end in ((1, -1, -lo), (0, 1, hi)):
                if end <= 0:
                    continue
                got = Arrivals(sim.rng(STREAM_WORKLOAD, 1, i, direction), rate).before(end)
                times.append(sign * got)
                index.append(np.full(len(got), i, dtype=np.int64))
        return np.concatenate(times), np.concatenate(index)


@dataclass(frozen=True)
class Bursts(ChangeWorkload):
    """Quiet, then many records change at once: bursts come as a Poisson process every
    ``every_s`` seconds on average; in each, every record changes with probability ``share``,
    at a uniform moment within ``spread_s``. Plus background changes at ``base_rate_per_s``.

    Polling pays for the quiet hours; webhooks pay only for the bursts (and then all at once).
    """

    every_s: float = 900.0
    share: float = 0.5
    spread_s: float = 10.0
    base_rate_per_s: float = 0.0

    def __post_init__(self) -> None:
        if not (
            self.every_s > 0 and 0 <= self.share <= 1 and self.spread_s >= 0 and self.base_rate_per_s >= 0
        ):
            raise ValueError("need every_s > 0, 0 <= share <= 1, spread_s >= 0, base_rate_per_s >= 0")

    @property
    def rate_per_s(self) -> float:  # type: ignore[override]
        return self.base_rate_per_s + self.share / self.every_s

    def change_times(self, sim, records, lo, hi):
        times, index = self._per_record(
            sim, records, lo, hi, lambda rng, sign: Arrivals(rng, self.base_rate_per_s)
        )
        parts_t, parts_i = [times], [index]
        for direction, (a, b) in enumerate(((0.0, hi), (0.0, -lo))):
            starts = Arrivals(sim.rng(STREAM_WORKLOAD, 1, direction), 1.0 / self.every_s).before(b - a)
            for k, at in enumerate(starts):
                rng = sim.rng(STREAM_WORKLOAD, 2, direction, k)
                who = np.flatnonzero(rng.random(records) < self.share)
                when = rng.random(len(who)) * self.spread_s
                burst_start = at if direction == 0 else -at
                parts_t.append(burst_start + when)
                parts_i.append(who)
        times, index = np.concatenate(parts_t), np.concatenate(parts_i)
        keep = (times >= lo) & (times < hi)
        return times[keep], index[keep]


@dataclass(frozen=True)
class OneBurst(ChangeWorkload):
    """One burst, at a known moment: at window time ``at_s`` a ``share`` of the records change, each
    at a uniform moment within ``length_s``; plus background changes at ``base_rate_per_s``. How
    a load test sends a spike (notebook 07: ten times A's capacity for 10 s)."""

    at_s: float = 60.0
    length_s: float = 10.0
    share: float = 1.0
    base_rate_per_s: float = 0.0

    def __post_init__(self) -> None:
        if not (self.at_s >= 0 and self.length_s > 0 and 0 <= self.share <= 1 and self.base_rate_per_s >= 0):
            raise ValueError("need at_s >= 0, length_s > 0, 0 <= share <= 1, base_rate_per_s >= 0")

    @property
    def rate_per_s(self) -> float:  # type: ignore[override]
        return self.base_rate_per_s

    def change_times(self, sim, records, lo, hi):
        times, index = self._per_record(
            sim, records, lo, hi, lambda rng, sign: Arrivals(rng, self.base_rate_per_s)
        )
        rng = sim.rng(STREAM_WORKLOAD, 3)
        who = np.flatnonzero(rng.random(records) < self.share)
        when = self.at_s + rng.random(len(who)) * self.length_s
        times, index = np.concatenate([times, when]), np.concatenate([index, who])
        keep = (times >= lo) & (times < hi)
        return times[keep], index[keep]


@dataclass(frozen=True)
class DailyCycle(ChangeWorkload):
    """Changes follow the day: rate ``rate_per_s * (1 + amplitude * cos(2 pi (t - peak_s) / period_s))``,
    busiest at ``peak_s`` after the window starts (14:00 if the window starts at midnight).
    """

    rate_per_s: float = 1 / 60
    amplitude: float = 0.8
    period_s: float = 86_400.0
    peak_s: float = 14 * 3600.0

    def __post_init__(self) -> None:
        if not (self.rate_per_s >= 0 and 0 <= self.amplitude <= 1 and self.period_s > 0):
            raise ValueError("need rate_per_s >= 0, 0 <= amplitude <= 1 and period_s > 0")

    def rate_at(self, t: np.ndarray | float) -> np.ndarray | float:
        """The change rate per record at window time ``t``."""
        return self.rate_per_s * (
            1 + self.amplitude * np.cos(2 * math.pi * (np.asarray(t) - self.peak_s) / self.period_s)
        )

    def change_times(self, sim, records, lo, hi):
        top = self.rate_per_s * (1 + self.amplitude)
        if top == 0:
            return np.empty(0), np.empty(0, dtype=np.int64)

        def arrivals(rng, sign):
            return Arrivals(rng, top, lambda t: self.rate_at(sign * t) / top)

        return self._per_record(sim, records, lo, hi, arrivals)


@dataclass(frozen=True)
class Settlement(Workload):
    """What the live runs do: A creates ``records`` payments one after the other (each as soon
    as the previous answer is back, plus ``gap_s``) and B settles each once, after a delay drawn
    by its :class:`~hooklab.core.provider.SettlementModel`. With the same seed the amounts, ids and
    settlement times equal those of :func:`hooklab.live.run_live`. Finite: the run ends when A
    knows every outcome.
    """

    gap_s: float = 0.0
    finite = True

    def install(
        self,
        sim: Sim,
        records: int,
        *,
        t0: float,
        start_s: float,
        spread_s: float,
        lead_s: float,
        span_s: float,
    ) -> None:
        rng = random.Random(sim.seed)  # the amounts run_live draws for the same seed
        amounts = [rng.randint(100, 50_000) for _ in range(records)]
        left = iter(amounts)

        def create_next(_: object = None) -> None:
            amount = next(left, None)
            if amount is not None:
                sim.create_payment(amount, settle=True, then=after)

        def after(payment: dict) -> None:
            if self.gap_s > 0:
                sim.at(sim.clock.t + self.gap_s, create_next)
            else:
                create_next()

        sim.at(t0, create_next)
