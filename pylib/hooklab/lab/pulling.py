"""Notebook 06's experiments: what smarter pulling buys, measured in virtual time."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from hooklab.core import adaptive
from hooklab.sim import simulate
from hooklab.sim.strategies import Adaptive, Poll
from hooklab.sim.workloads import MixedPoisson


def _bisect(f, lo: float, hi: float) -> float:
    """The x in [lo, hi] where the increasing-then-crossing f(x) = 0 (f(lo) > 0 >= f(hi))."""
    for _ in range(100):
        mid = (lo + hi) / 2
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return hi


def rate_limit_plan(
    records: int, limit_per_hour: int, rate_per_s: float, *, min_interval_s: float = 60.0, seed: int = 0
) -> pd.DataFrame:
    """The shortest interval each way of pulling can keep under ``limit_per_hour`` (a quota that,
    as at GitHub, does not count 304s), for ``records`` records changing at ``rate_per_s``, but
    never below ``min_interval_s`` (what ``X-Poll-Interval`` asks; GitHub's examples say 60 s);
    then each simulated for an hour at that interval, to check the quota it really used.

    - naive polling: every poll counts, N / T per second: T = N x 3600 / limit;
    - conditional polling: only polls that find a change count, N (1 - e^-λT) / T per second,
      which never exceeds the changes per hour, N λ 3600: below the limit, the quota stops binding;
    - the feed: one request per interval for all records, plus a page per 100 events.
    """
    naive = records * 3600 / limit_per_hour

    def cond_quota(t: float) -> float:
        return records * (1 - math.exp(-rate_per_s * t)) * 3600 / t

    def feed_quota(t: float) -> float:
        return 3600 / t * (1 + records * rate_per_s * t / 100)

    intervals = {"poll": naive}
    for mode, quota in (("conditional", cond_quota), ("feed", feed_quota)):
        t = min_interval_s
        if quota(t) > limit_per_hour:  # the limit binds: the shortest interval under it
            t = _bisect(lambda x, q=quota: q(x) - limit_per_hour, t, naive)
        intervals[mode] = max(t, min_interval_s)
    rows = []
    for mode, interval in intervals.items():
        s = simulate(mode, interval_s=round(interval, 3), records=records, rate_per_s=rate_per_s,
                     duration_s=3600, seed=seed).summary  # fmt: skip
        rows.append({"mode": mode, "interval_s": round(interval, 2), "mean_wait_s": s["latency_mean_s"],
                     "requests_per_hour": s["requests"], "quota_used_per_hour": s["quota_used"],
                     "not_modified": s["not_modified"]})  # fmt: skip
    return pd.DataFrame(rows).set_index("mode")


def freshness_points(
    rs: Sequence[float], *, interval_s: float = 60.0, records: int = 200, seed: int = 0
) -> pd.DataFrame:
    """Simulated freshness of periodic polling at r = λT, against (1 - e^-r) / r."""
    rows = []
    for r in rs:
        run = simulate("poll", interval_s=interval_s, records=records, rate_per_s=r / interval_s, duration_s=7200,
                       seed=seed)  # fmt: skip
        rows.append({"r": r, "simulated": run.summary["freshness"],
                     "theory": adaptive.freshness(r / interval_s, interval_s)})  # fmt: skip
    return pd.DataFrame(rows)


def budget_allocations(
    rates_per_s: Sequence[float] = (1 / 30, 1 / 3600),
    *,
    records: int = 60,
    interval_s: float = 120.0,
    duration_s: float = 3 * 3600,
    seed: int = 0,
) -> pd.DataFrame:
    """One budget (``records / interval_s`` polls per second) spent three ways over records whose
    rates cycle through ``rates_per_s``: the same interval for all, intervals in proportion to
    each rate, and the adaptive poller (estimates rates, re-allocates); plus the optimum that
    knowing the rates would give (theory). Mean freshness over the run (which starts with every
    copy fresh), the theory's steady state where there is one, and requests per hour, simulated."""
    mix = MixedPoisson(tuple(rates_per_s))
    rates = [mix.rate_of(j) for j in range(records)]
    budget = records / interval_s
    ways = {
        "uniform": Poll(interval_s),
        "proportional": Poll(interval_s, intervals=lambda j: sum(rates) / (budget * rates[j])),
        "adaptive": Adaptive(interval_s),
    }
    hours = duration_s / 3600
    steady = {  # the theory's freshness once every record has been polled at its interval
        "uniform": sum(adaptive.freshness(lam, interval_s) for lam in rates) / records,
        "proportional": sum(adaptive.freshness(lam, sum(rates) / (budget * lam)) for lam in rates) / records,
    }
    rows = []
    for name, strategy in ways.items():
        s = simulate(strategy, records=records, workload=mix, duration_s=duration_s, seed=seed).summary
        rows.append({"allocation": name, "freshness": s["freshness"], "steady_state": steady.get(name),
                     "requests_per_hour": round(s["requests"] / hours),
                     "quota_used_per_hour": round(s["quota_used"] / hours)})  # fmt: skip
    best = adaptive.allocate(rates, budget)
    optimum = sum(
        adaptive.freshness(lam, 1 / f) if f > 0 else 0.0 for lam, f in zip(rates, best, strict=True)
    )
    rows.append({"allocation": "optimum (rates known)", "freshness": round(optimum / records, 6),
                 "steady_state": round(optimum / records, 6), "requests_per_hour": round(budget * 3600),
                 "quota_used_per_hour": None})  # fmt: skip
    return pd.DataFrame(rows).set_index("allocation")
