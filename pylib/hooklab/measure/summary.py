"""From raw records to the figures the series argues with.

``change_latencies`` joins B's ground truth (every change, when it happened) with A's
observations (when A learned each version); ``summarize`` turns a request log plus that join into
the numbers ``hooklab demo`` and ``hooklab simulate`` print. Live and simulated runs share both.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable

import numpy as np
import pandas as pd

from hooklab.core import modes
from hooklab.core.provider import Change
from hooklab.core.shop import Observation

LATENCY_COLUMNS = (
    "payment_id",
    "version",
    "status",
    "changed_at",
    "learned_at",
    "latency_s",
    "detected",
    "superseded",
)
#: Keys every summary has, live (``hooklab demo``) or simulated (``hooklab simulate``).
SUMMARY_KEYS = (
    "requests",
    "empty_responses",
    "changes",
    "detected",
    "superseded",
    "latency_mean_s",
    "latency_p50_s",
    "latency_p95_s",
    "latency_max_s",
)
#: Which request kinds count in each mode (``hybrid``: webhooks plus reconciliation polls;
#: ``feed``: A's ``GET /events`` requests, every page, notebooks/04-pull-vs-push.ipynb), read from
#: the one table of modes.
MODE_KINDS = modes.MODE_KINDS


def change_latencies(changes: Iterable[Change], observations: Iterable[Observation]) -> pd.DataFrame:
    """One row per change: when B made it, when A first knew that version *or a later one*.

    ``detected``: A came to know of the change, as it was or because it saw a later version.
    ``superseded``: detected, but A never saw this version itself: the payment changed again before
    A looked (two changes between polls), so A knows it moved past this state, not that it was in
    it. Latency counts from the change to the first time A knew that version or a later one.
    """
    learned: dict[str, list[tuple[int, float]]] = {}
    seen_exactly: set[tuple[str, int]] = set()
    for obs in observations:
        learned.setdefault(obs.payment_id, []).append((obs.version, obs.learned_at))
        seen_exactly.add((obs.payment_id, obs.version))
    # per payment: for each version v, the earliest time A knew a version >= v
    earliest: dict[str, tuple[list[int], list[float]]] = {}
    for pid, seen in learned.items():
        seen.sort()
        versions, times, best = [], [], math.inf
        for version, at in reversed(seen):
            best = min(best, at)
            versions.append(version)
            times.append(best)
        earliest[pid] = (versions[::-1], times[::-1])
    rows = []
    no_versions: tuple[list[int], list[float]] = ([], [])
    for ch in changes:
        # the first version >= ch.version (binary search: linear in changes, not quadratic)
        versions, times = earliest.get(ch.payment_id, no_versions)
        k = bisect_left(versions, ch.version)
        at = times[k] if k < len(versions) else math.nan
        rows.append(
            (
                ch.payment_id,
                ch.version,
                ch.status,
                ch.changed_at,
                at,
                at - ch.changed_at,
                not math.isnan(at),
                not math.isnan(at) and (ch.payment_id, ch.version) not in seen_exactly,
            )
        )
    return pd.DataFrame(rows, columns=list(LATENCY_COLUMNS))


def _round(x: float, digits: int = 6) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), digits)


def summarize(requests: pd.DataFrame, latencies: pd.DataFrame, mode: str) -> dict:
    """The comparison figures for one run in ``mode`` (``poll``, ``webhook``, ``hybrid`` or ``feed``).

    ``requests`` counts the requests that carry news in this mode (A's polls, B's delivery
    attempts, failed ones included, or A's changes-feed pages), as their sender logged them; ``empty_responses`` those of
    them that told A nothing new. Latency is over detected changes; ``None`` if there are none.
    """
    if mode not in MODE_KINDS:
        raise ValueError(f"mode must be one of {tuple(MODE_KINDS)}, got {mode!r}")
    of_kind = requests[requests["kind"].isin(MODE_KINDS[mode])]
    sent = of_kind[of_kind["direction"] == "out"]
    with_news = int((of_kind["news"] == True).sum())  # noqa: E712 (nullable boolean column)
    return figures(len(sent), with_news, latencies)


def freshness(latencies: pd.DataFrame, records: int, duration_s: float) -> float | None:
    """The share of record-time in ``[0, duration_s)`` during which A's copy was current (window
    time): each change makes its record stale until A knew that version or a later one (never:
    until the end). For periodic polling of Poisson changes this is (1 - e^-r) / r, r = lambda T
    (Cho and Garcia-Molina, :mod:`hooklab.core.adaptive`)."""
    if records <= 0 or not duration_s > 0:
        return None
    # by record, then time: integer codes and numpy, not a frame sort on text (a sweep does this 20 times)
    codes = pd.factorize(latencies["payment_id"])[0]
    changed = latencies["changed_at"].to_numpy(dtype=float)
    order = np.lexsort((changed, codes))
    codes, changed = codes[order], changed[order].clip(0, duration_s)
    learned = latencies["learned_at"].to_numpy(dtype=float)[order]
    learned = np.where(np.isnan(learned), duration_s, learned).clip(0, duration_s)
    # per record, learned times only grow with the version: each change adds what its stale
    # span does not share with the one before
    same = np.r_[False, codes[1:] == codes[:-1]]
    before = np.r_[0.0, learned[:-1]]
    begin = np.where(same, np.maximum(changed, before), changed)
    stale = np.clip(learned - begin, 0, None).sum()
    return round(float(1 - stale / (records * duration_s)), 6)


def figures(sent: int, with_news: int, latencies: pd.DataFrame) -> dict:
    """The summary from its parts: requests sent, how many of them brought news, the latency rows.
    (:func:`summarize` takes them from a request log; the simulation counts them on its columns.)
    """
    # .astype(bool): an empty frame's column is of dtype object, and indexing with it would select columns
    detected = latencies.loc[latencies["detected"].astype(bool), "latency_s"].to_numpy(dtype=float)
    has = detected.size > 0
    return {
        "requests": sent,
        "empty_responses": sent - with_news,
        "changes": len(latencies),
        "detected": int(detected.size),
        "superseded": int(latencies["superseded"].astype(bool).sum()),
        "latency_mean_s": _round(detected.mean()) if has else None,
        "latency_p50_s": _round(np.percentile(detected, 50)) if has else None,
        "latency_p95_s": _round(np.percentile(detected, 95)) if has else None,
        "latency_max_s": _round(detected.max()) if has else None,
    }
