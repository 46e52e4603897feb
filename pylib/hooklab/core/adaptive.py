"""How to spend a polling budget across records that change at different rates (sans-I/O).

Cho and Garcia-Molina, "Effective page refresh policies for Web crawlers", ACM TODS 28(4), 2003
(https://doi.org/10.1145/958942.958945), and "Estimating frequency of change", ACM TOIT 3(3), 2003
(https://doi.org/10.1145/857166.857170):

- polling a record that changes as a Poisson process of rate lambda every T seconds keeps A's copy
  fresh a share F = (1 - e^-r) / r of the time, r = lambda * T (:func:`freshness`);
- from n polls of which X found a change, the rate is better estimated by
  r = -ln((n - X + 0.5) / (n + 0.5)) (per interval) than by the biased X / n (:func:`estimate_rate`);
- under a fixed budget (polls per second in all), giving every record the *same* frequency beats
  giving each one a frequency in proportion to its rate; the optimum solves
  dF/df = mu for every record (:func:`allocate`), and polls a record that changes far faster than
  the budget can follow rarely or not at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def freshness(rate_per_s: float, interval_s: float) -> float:
    """The share of time a record polled every ``interval_s`` is up to date: (1 - e^-r) / r."""
    r = rate_per_s * interval_s
    return 1.0 if r == 0 else (1 - math.exp(-r)) / r


def estimate_rate(polls: int, changed: int, interval_s: float) -> float:
    """Changes per second estimated from ``polls`` polls ``interval_s`` apart, ``changed`` of which
    found the record changed (Cho and Garcia-Molina's estimator, finite even when every poll did)."""
    if polls <= 0:
        raise ValueError("need at least one poll to estimate a rate")
    if not 0 <= changed <= polls:
        raise ValueError(f"changed must be between 0 and polls ({polls}), got {changed}")
    return -math.log((polls - changed + 0.5) / (polls + 0.5)) / interval_s


def estimate_from(polls: int, changed: int, watched_s: float, default_per_s: float) -> float:
    """A record's rate from all its polls so far (``watched_s``: the intervals they covered, added
    up), with :func:`estimate_rate` per mean interval; no polls yet: ``default_per_s``; none found a
    change: half a change over the time watched (so a quiet record keeps a share of the budget
    until it is known to be quiet)."""
    if polls == 0:
        return default_per_s
    if changed == 0:
        return 0.5 / watched_s
    return estimate_rate(polls, changed, watched_s / polls)


def _r_for(target: float) -> float:
    """Solve 1 - (1 + r) e^-r = target for r >= 0 (0 <= target < 1), by bisection."""
    lo, hi = 0.0, 1.0
    while 1 - (1 + hi) * math.exp(-hi) < target:
        hi *= 2
        if hi > 1e6:
            return hi
    for _ in range(80):
        mid = (lo + hi) / 2
        if 1 - (1 + mid) * math.exp(-mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _frequencies(rates: Sequence[float], mu: float) -> list[float]:
    out = []
    for lam in rates:
        if lam <= 0:
            out.append(0.0)
        elif mu * lam >= 1:
            out.append(0.0)  # changes too fast to be worth a poll at this price
        else:
            out.append(lam / _r_for(mu * lam))
    return out


def allocate(rates: Sequence[float], budget_per_s: float, *, floor_per_s: float = 0.0) -> list[float]:
    """Poll frequencies (per second) for records of these ``rates`` that maximise the mean
    freshness with ``budget_per_s`` polls per second in all: dF/df = mu for every record polled
    (bisection on mu). ``floor_per_s``: every record is polled at least this often (so that a rate
    estimated as 0 is looked at again), taken out of the budget first."""
    n = len(rates)
    if n == 0:
        return []
    if not budget_per_s > 0 or floor_per_s * n >= budget_per_s:
        raise ValueError(
            f"need a budget above the floor: {budget_per_s} polls/s for {n} records at {floor_per_s}"
        )
    spend = budget_per_s - floor_per_s * n
    if all(lam <= 0 for lam in rates):
        return [budget_per_s / n] * n
    lo, hi = 0.0, 1.0
    while sum(_frequencies(rates, hi)) > spend:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        if sum(_frequencies(rates, mid)) > spend:
            lo = mid
        else:
            hi = mid
    freqs = _frequencies(rates, hi)
    scale = spend / sum(freqs) if sum(freqs) > 0 else 0.0  # land exactly on the budget
    return [floor_per_s + f * scale for f in freqs]


class PollBudget:
    """An adaptive poller's memory and choice, sans-I/O (the simulation's and live A's alike): each
    record's polls counted as they are answered, and on request the budget (records /
    ``interval_s`` polls per second) re-allocated from the estimated rates, no record polled less
    often than every ``max_interval_s`` (so that its estimate stays current)."""

    def __init__(self, interval_s: float, max_interval_s: float | None = None) -> None:
        self.interval_s = float(interval_s)
        self.max_interval_s = max_interval_s or 20 * self.interval_s
        self.seen: dict[str, list] = {}  # record -> [polls, polls that found a change, seconds covered]

    def polled(self, key: str, changed: bool, interval_s: float) -> None:
        """One answered poll of ``key``, made ``interval_s`` after the one before."""
        seen = self.seen.setdefault(key, [0, 0, 0.0])
        seen[0] += 1
        seen[1] += changed
        seen[2] += interval_s

    def rate(self, key: str) -> float:
        """``key``'s rate of change from all its polls so far (:func:`estimate_from`)."""
        return estimate_from(*self.seen.get(key, (0, 0, 0.0)), 1 / self.interval_s)

    def intervals(self, keys: Sequence[str]) -> list[float]:
        """Each record's new polling interval, the budget spent to maximise mean freshness."""
        if not keys:
            return []
        freqs = allocate(
            [self.rate(k) for k in keys], len(keys) / self.interval_s, floor_per_s=1 / self.max_interval_s
        )
        return [1 / f for f in freqs]
