"""Experiments in virtual time: one run (:func:`simulate`), a sweep over polling intervals
(:func:`sweep`), and the textbook numbers to hold them against (:func:`theory_poll`).

The measured window
-------------------
A run with a rate workload (Poisson, bursts, daily cycle) measures a window of ``duration_s``
seconds in steady state. Before it, a warm-up of one polling interval (records are created at
random moments in it, so polls are spread evenly and every poll in the window covers a full
interval; with webhooks only, records are created just before the window); after it, a drain long enough for A to learn the window's last changes. Requests
*sent* in the window and changes *made* in it are what the frames hold and the summary counts;
times are seconds since the window began. A :class:`~hooklab.sim.workloads.Settlement` workload
is finite: the window is the whole run, until A knows every outcome.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hooklab.core.provider import DEFAULT_RETRY_SCHEDULE, SettlementModel
from hooklab.core.retry import RetryPolicy
from hooklab.core.shop import INBOX_RETENTION_S
from hooklab.measure import progress
from hooklab.measure.summary import MODE_KINDS, SUMMARY_KEYS, change_latencies, figures, freshness
from hooklab.sim import vector
from hooklab.sim.capacity import Capacity
from hooklab.sim.choices import ENGINES, MODES, WORKLOADS
from hooklab.sim.engine import gc_paused
from hooklab.sim.network import LogNormalDelay, Network
from hooklab.sim.strategies import (
    Adaptive,
    Feed,
    Hybrid,
    LongPoll,
    Poll,
    Reconciled,
    ServerSentEvents,
    Strategy,
    Webhook,
)
from hooklab.sim.workloads import Bursts, DailyCycle, Poisson, Settlement, Workload
from hooklab.sim.world import ROW_KINDS, Sim, request_frame

#: What ``hooklab simulate`` prints: ``hooklab demo``'s keys, then the simulation's extras.
SIM_SUMMARY_KEYS = (
    *SUMMARY_KEYS,
    "empty_fraction",
    "provider_rps",
    "bytes",
    "retries",
    "lost",
    "applied_twice",
    "not_modified",
    "quota_used",
    "freshness",
)
#: 20 polling intervals from 5 s to 10 min, evenly spaced on a log scale (the default sweep).
#: With one change a minute per record that is lambda*T from 0.08 (92% of polls empty) to 10
#: (every poll finds news); shorter intervals only extend the straight lines of a log-log plot,
#: at a cost in run time that grows as 1/T (2 s alone costs as much as the other 19 together).
SWEEP_INTERVALS = tuple(float(x) for x in np.round(np.geomspace(5, 600, 20), 2))


@dataclass
class SimRun:
    """The outcome of one simulated run; frames shaped like :class:`~hooklab.live.LiveRun`'s.

    ``requests``: one ``out`` row per request sent in the window (standard request-log columns),
    made when first read (a sweep reads only summaries, and a million-row frame costs a second).
    ``latencies``: one row per change made in the window (see ``measure.change_latencies``).
    ``sim``: the engine with both cores, to look inside (``run.sim.provider``, ``run.sim.shop``).
    """

    mode: str
    latencies: pd.DataFrame
    summary: dict
    params: dict
    sim: Sim | None
    #: Which engine computed it: ``"events"`` (the cores, callback by callback) or ``"vector"``
    #: (the same arithmetic in numpy, :mod:`hooklab.sim.vector`; it keeps no cores: ``sim`` is None).
    engine: str = "events"
    columns: dict = field(default_factory=dict, repr=False)
    window: tuple[float, float] = (0.0, math.inf)

    @functools.cached_property
    def requests(self) -> pd.DataFrame:
        return request_frame(self.columns, *self.window)[0]

    @property
    def consistent(self) -> bool:
        """A's view of every payment equals B's (expected after a finite workload)."""
        if self.sim is None:
            raise ValueError("this run was computed by the vector engine, which keeps no cores: "
                             "simulate(..., engine='events') to look inside")  # fmt: skip
        return self.sim.shop.snapshot() == self.sim.provider.snapshot()


#: Hybrid mode's reconciliation poll interval unless one is given (seconds).
DEFAULT_RECONCILE_S = 600.0

#: Where the measured window opens on the simulated clock (seconds), unless a warm-up is longer.
WINDOW_ORIGIN_S = 1_000_000.0


def window_origin(warmup_s: float) -> float:
    """The simulated time at which the window opens: :data:`WINDOW_ORIGIN_S`, or a power of ten
    that leaves room for a longer warm-up (the clock starts ``warmup_s`` earlier, never below 0)."""
    origin = WINDOW_ORIGIN_S
    while origin < 2 * warmup_s:
        origin *= 10
    return origin


def make_workload(workload: str | Workload | None, rate_per_s: float) -> Workload:
    """A workload object from a name (``poisson``, ``bursts``, ``daily``, ``settlement``)."""
    if isinstance(workload, Workload):
        return workload
    name = workload or "poisson"
    if name == "poisson":
        return Poisson(rate_per_s)
    if name == "bursts":
        return Bursts(every_s=900.0, share=min(1.0, rate_per_s * 900.0))
    if name == "daily":
        return DailyCycle(rate_per_s)
    if name == "settlement":
        return Settlement()
    raise ValueError(f"workload must be one of {WORKLOADS} or a Workload, got {workload!r}")


def make_strategy(
    mode: str | Strategy, interval_s: float, *, until_final: bool, reconcile_s: float | None
) -> Strategy:
    """A strategy object from a mode name (``poll``, ``webhook``, ``hybrid``, ``feed``); webhooks
    with ``reconcile_s`` also read ``GET /events`` every ``reconcile_s`` (:class:`Reconciled`)."""
    if isinstance(mode, Strategy):
        return mode
    if mode == "poll":
        return Poll(interval_s, until_final=until_final)
    if mode == "webhook":
        return Webhook() if reconcile_s is None else Reconciled(reconcile_s)
    if mode == "hybrid":
        strategy = Hybrid(DEFAULT_RECONCILE_S if reconcile_s is None else reconcile_s)
        strategy.poller.until_final = until_final
        return strategy
    if mode == "feed":
        return Feed(interval_s, until_final=until_final)
    if mode == "conditional":
        return Poll(interval_s, until_final=until_final, conditional=True)
    if mode == "adaptive":
        return Adaptive(interval_s)
    if mode == "long-poll":
        return LongPoll()
    if mode == "sse":
        return ServerSentEvents()
    raise ValueError(f"mode must be one of {MODES} or a Strategy, got {mode!r}")


def simulate(
    mode: str | Strategy = "poll",
    *,
    interval_s: float = 10.0,
    records: int = 100,
    rate_per_s: float = 1 / 60,
    duration_s: float | None = 3600.0,
    seed: int = 0,
    workload: str | Workload | None = None,
    network: Network | None = None,
    delay_s: float | None = None,
    failure_prob: float = 0.0,
    retry_schedule: str | Sequence[float] | RetryPolicy = DEFAULT_RETRY_SCHEDULE,
    settlement: SettlementModel | None = None,
    reconcile_s: float | None = None,
    engine: str = "auto",
    outages: Sequence[tuple[float, float]] = (),
    reply_loss_prob: float = 0.0,
    retention_s: float = INBOX_RETENTION_S,
    jitter: float = 0.0,
    capacity: Capacity | None = None,
    endpoint_rate: tuple[int, float] | None = None,
    recovery_spread_s: float = 0.0,
) -> SimRun:
    """Simulate A learning of B's changes for ``duration_s`` seconds of virtual time.

    ``mode``: ``"poll"`` (every ``interval_s``), ``"webhook"``, ``"hybrid"`` (webhooks plus a
    reconciliation poll every ``reconcile_s``), ``"feed"`` (one ``GET /events`` for all records
    every ``interval_s``, notebooks/04-pull-vs-push.ipynb), or a
    :class:`~hooklab.sim.strategies.Strategy`.
    ``workload``: ``"poisson"`` (default: each of ``records`` changes at ``rate_per_s``),
    ``"bursts"``, ``"daily"``, ``"settlement"`` (create ``records`` payments, B settles each once
    per ``settlement``; runs until A knows all, ``duration_s`` ignored), or a Workload object.
    ``network``: delays and webhook failure; or just ``delay_s`` (median one-way delay, lognormal)
    and ``failure_prob``. Same arguments, same result, to the byte.
    ``engine``: ``"auto"`` (the vector engine where it applies, else the events), ``"events"`` or
    ``"vector"`` (an error where it does not apply). Both give the same result
    (:mod:`hooklab.sim.vector` says why both exist); ``run.engine`` says which ran.

    Reliability: ``retry_schedule`` a policy name (``fast``, ``svix``, ``standard``, ``shopify``,
    ``stripe``, ``github``), a :class:`~hooklab.core.retry.RetryPolicy` or a list of waits, each
    spread by up to ``jitter`` (a fraction, drawn from B's seeded jitter stream);
    ``outages``: ``[(start_s, duration_s), ...]`` from the window's start, while A is down (its
    server refuses B, its poller waits); ``reply_loss_prob``: A's ``200`` lost on the way back;
    ``retention_s``: how long A's inbox remembers an event id; ``reconcile_s``: hybrid's poll
    interval (600 s unless given), or with ``mode="webhook"`` a ``GET /events`` read every
    ``reconcile_s`` (as ``hooklab consumer --reconcile``).
    ``capacity``: A's workers and service time (:class:`~hooklab.sim.capacity.Capacity`), so that
    a burst queues, a slow answer times out at B and is retried; ``run.sim.workers.waits`` holds
    each event's wait for a worker. None (the default): A handles every event on arrival.
    ``endpoint_rate`` ``(n, seconds)``: B sends at most ``n`` attempts per ``seconds`` to A's endpoint;
    ``recovery_spread_s``: B releases a recovered endpoint's backlog over that many seconds. The summary's ``lost`` counts the
    window's changes A never learned by the end of the run, ``applied_twice`` the events A applied
    more than once.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if records < 0:
        raise ValueError(f"records must be >= 0, got {records}")
    for start_s, length_s in outages:
        if not (start_s >= 0 and length_s > 0):
            raise ValueError(f"an outage is (start_s >= 0, duration_s > 0), got ({start_s}, {length_s})")
    if network is None:
        delay = LogNormalDelay() if delay_s is None else LogNormalDelay(median_s=delay_s)
        network = Network(delay=delay, failure_prob=failure_prob, reply_loss_prob=reply_loss_prob)
    work = make_workload(workload, rate_per_s)
    strategy = make_strategy(mode, interval_s, until_final=work.finite, reconcile_s=reconcile_s)
    sim = Sim(seed=seed, network=network, settlement=settlement, retry_schedule=retry_schedule,
              retention_s=retention_s, jitter=jitter, capacity=capacity, endpoint_rate=endpoint_rate,
              recovery_spread_s=recovery_spread_s)  # fmt: skip
    sim.on_created = strategy.watch
    window = _place_window(sim, strategy, work, network, duration_s, outages)
    if engine != "events":
        why = vector.why_not(mode, work, network, records, outages=outages,
                             reconciled=isinstance(strategy, Reconciled), capacity=capacity,
                             throttled=endpoint_rate is not None or recovery_spread_s > 0)  # fmt: skip
        if why is not None and engine == "vector":
            raise ValueError(f"the vector engine cannot run this: {why}")
        got = vector.run(sim, strategy, work, records, window) if why is None else None
        if got is not None:
            columns, latencies, start, end = got
            return _finish(strategy, work, records, seed, columns, latencies, start, end,
                           float(duration_s), None, "vector")  # fmt: skip
        if why is None and engine == "vector":
            raise ValueError("the vector engine cannot run this: a poll's answer came after the "
                             "record's next poll was due (an interval shorter than the network)")  # fmt: skip
    return _run_events(sim, strategy, work, records, seed, window, outages)


def _place_window(sim: Sim, strategy: Strategy, work: Workload, network: Network, duration_s: float | None,
                  outages: Sequence[tuple[float, float]]) -> vector.Window:  # fmt: skip
    """Where the measured window lies: the clock starts early enough for A's set-up and the first
    creates, the window opens at the same moment of B's clock whatever the strategy (one set of
    change times for every run of a workload), and the run drains until what was sent is answered."""
    finite = work.finite
    if not finite and not (duration_s is not None and duration_s > 0):
        raise ValueError(f"duration_s must be > 0 for a {type(work).__name__} workload, got {duration_s}")
    spread = 0.0 if finite else strategy.warmup_s()
    # creates are done (one round trip after the last is sent) before the window opens
    lead = 0.0 if finite else spread + 2 * network.delay.high_s
    setup = 0.0 if finite else strategy.setup_s(sim)
    start = 0.0 if finite else window_origin(lead + setup)
    begin = 0.0 if finite else start - lead - setup
    drain = strategy.horizon_s(sim)
    if outages:  # A must be back, and B's schedule run out, before the run ends
        last_end = max(a + d for a, d in outages)
        drain = max(drain, last_end - (0.0 if finite else duration_s) + drain)
    span = math.inf if finite else duration_s + 4 * network.delay.high_s
    return vector.Window(begin, start, spread, lead + setup, span, duration_s, drain)


def _run_events(sim: Sim, strategy: Strategy, work: Workload, records: int, seed: int, window: vector.Window,
                outages: Sequence[tuple[float, float]]) -> SimRun:  # fmt: skip
    """The event engine: the cores callback by callback on the virtual clock."""
    finite = work.finite
    opened: dict[str, float] = {}

    def ready() -> None:
        t0 = sim.clock.t
        opened["start"] = t0 if finite else window.start_s
        # changes after the window cannot change what a request sent in it found (but for one
        # network delay), nor when A learned a change made in it: the drain needs none
        work.install(sim, records, t0=t0, start_s=opened["start"], spread_s=window.spread_s,
                     lead_s=window.lead_s, span_s=window.span_s)  # fmt: skip

    sim.clock.t = window.begin_s
    origin = 0.0 if finite else window.start_s  # outages are given from the window's start
    sim.outages = sorted((origin + a, origin + a + d) for a, d in outages)
    strategy.start(sim, ready)
    while "start" not in opened:  # setup: at most a registration round trip
        if not sim.step():
            raise RuntimeError(f"{type(strategy).__name__}.start() never called ready()")
    start = opened["start"]
    if finite:
        end, length = math.inf, sim.run() - start
    else:
        sim.run(until=start + window.duration_s + window.drain_s)
        end, length = start + window.duration_s, float(window.duration_s)
    with gc_paused():
        latencies = change_latencies(sim.provider.changes, sim.shop.observations)
    return _finish(strategy, work, records, seed, sim.request_columns(), latencies, start, end, length, sim,
                   "events")  # fmt: skip


def _finish(strategy, work, records, seed, columns, latencies, start, end, length, sim, engine) -> SimRun:
    """The measured window's figures and parameters, whichever engine ran (the request frame is
    made later, if it is read)."""
    latencies = latencies[(latencies["changed_at"] >= start) & (latencies["changed_at"] < end)]
    latencies = latencies.reset_index(drop=True)
    latencies["changed_at"] -= start
    latencies["learned_at"] -= start
    mode = strategy.mode
    time = columns["time"]
    window = (time >= start) & (time < end)
    which = columns["which"][window]
    # counted on the columns with small integers (each row's ROW_KINDS index), not on a frame's text
    counted = np.array([kind in MODE_KINDS[mode] for _, _, kind, _ in ROW_KINDS])[which]
    to_b = np.array([receiver == "B" for _, receiver, _, _ in ROW_KINDS])[which]
    status = columns["status"][window]
    webhook = np.array([kind == "webhook" for _, _, kind, _ in ROW_KINDS])[which]
    n = int(counted.sum())
    summary = figures(n, int((columns["news"][window][counted] > 0).sum()), latencies)
    summary.update(
        {
            "empty_fraction": round(summary["empty_responses"] / n, 6) if n else None,
            "provider_rps": round(int(to_b.sum()) / length, 6) if length > 0 else None,
            "bytes": int(columns["bytes"][window][counted].sum()),
            "retries": int(((columns["attempt"][window] > 1) & webhook).sum()),
            "lost": summary["changes"] - summary["detected"],
            # the vector engine runs only where every delivery arrives once: nothing can apply twice
            "applied_twice": 0 if sim is None else sum(1 for c in sim.shop.applications.values() if c > 1),
            # conditional requests: the 304s, and what B counts against a rate limit (a 304 is free)
            "not_modified": int((status[counted] == 304).sum()),
            "quota_used": int((to_b & (status != 304)).sum()),
            "freshness": freshness(latencies, records, length) if math.isfinite(end) else None,
        }
    )
    params = {
        **strategy.describe(),
        "workload": type(work).__name__,
        "records": records,
        "rate_per_s": work.rate_per_s,
        "duration_s": length,
        "seed": seed,
    }
    if sim is not None and (sim.outages or sim.provider.policy.name != "custom"):
        params["retries"] = sim.provider.policy.name
        params["outages"] = [(a - start, b - a) for a, b in sim.outages]
    return SimRun(mode, latencies, summary, params, sim, engine, columns, (start, end))


def theory_poll(interval_s: float, rate_per_s: float, records: int = 1) -> dict:
    """What theory says for polling every ``interval_s`` records that change as a Poisson process
    of ``rate_per_s``: a change waits ``T/2`` on average and at most ``T``; a poll finds nothing
    new with probability ``exp(-lambda*T)``; B serves ``records / T`` requests per second.
    (Network delay comes on top.)
    """
    t = float(interval_s)
    return {
        "latency_mean_s": t / 2,
        "latency_max_s": t,
        "empty_fraction": math.exp(-rate_per_s * t),
        "provider_rps": records / t,
        "requests_per_change": 1 / (rate_per_s * t) if rate_per_s > 0 else math.inf,
    }


def theory_webhook(
    rate_per_s: float, records: int = 1, delay_mean_s: float = LogNormalDelay().mean_s
) -> dict:
    """Webhooks without failures: one request per change (``records * lambda`` per second, sent
    by B, none served by B), each learned one network trip late, none empty.
    """
    return {
        "latency_mean_s": delay_mean_s,
        "empty_fraction": 0.0,
        "provider_rps": 0.0,
        "requests_per_s": records * rate_per_s,
        "requests_per_change": 1.0,
    }


def _sweep_one(kwargs: dict) -> dict:
    run = simulate(**kwargs)
    return {"interval_s": kwargs["interval_s"], **run.summary}


def sweep(
    intervals: Iterable[float] = SWEEP_INTERVALS,
    *,
    mode: str = "poll",
    records: int = 100,
    rate_per_s: float = 1 / 60,
    duration_s: float = 3600.0,
    seed: int = 0,
    workers: int | None = None,
    **options,
) -> pd.DataFrame:
    """One :func:`simulate` per polling interval; one row each: the summary next to theory
    (``theory_latency_mean_s`` = T/2, ``theory_empty_fraction`` = exp(-lambda*T),
    ``theory_provider_rps`` = records/T). Same seed for every interval, so every run sees the
    same changes. ``workers``: processes to use (default: up to 2 on Linux for big sweeps, else
    1, and 1 whenever other threads run, as in a Jupyter kernel);
    the result does not depend on it. A sweep that runs over a second shows a progress bar
    (:mod:`hooklab.measure.progress`).
    """
    intervals = [float(t) for t in intervals]
    jobs = [
        dict(mode=mode, interval_s=t, records=records, rate_per_s=rate_per_s, duration_s=duration_s,
             seed=seed, **options)
        for t in intervals
    ]  # fmt: skip
    if workers is None:
        polls = sum(records * duration_s / t for t in intervals)
        # fork only from a single-threaded process: in a Jupyter kernel (several threads) a lock held
        # at fork time would stay held in the child forever, so notebooks sweep in one process
        forkable = sys.platform == "linux" and threading.active_count() == 1
        workers = min(2, os.cpu_count() or 1) if (polls > 100_000 and forkable) else 1
    if workers > 1 and len(jobs) > 1:
        # biggest first, so the two processes finish together
        order = sorted(range(len(jobs)), key=lambda k: intervals[k])
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            results = pool.map(_sweep_one, [jobs[k] for k in order])
            done = dict(zip(order, progress.bar(results, total=len(jobs), desc="sweep", unit="interval"),
                            strict=True))  # fmt: skip
        rows = [done[k] for k in range(len(jobs))]
    else:
        rows = [_sweep_one(job) for job in progress.bar(jobs, desc="sweep", unit="interval")]
    frame = pd.DataFrame(rows)
    theory = [theory_poll(t, rate_per_s, records) for t in intervals]
    frame["theory_latency_mean_s"] = [th["latency_mean_s"] for th in theory]
    frame["theory_empty_fraction"] = [th["empty_fraction"] for th in theory]
    frame["theory_provider_rps"] = [th["provider_rps"] for th in theory]
    return frame
