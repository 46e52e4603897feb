"""Notebook 07's experiments in virtual time: who controls the rate at which work reaches A.

With webhooks B decides when A gets work; with pull A does. These runs give A a capacity (a queue
of workers, :class:`hooklab.sim.capacity.Capacity`) and send it more than it can take: a burst,
then the backlog of an outage. The live experiments are in :mod:`hooklab.lab.stability_live`.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from hooklab.measure.progress import bar
from hooklab.sim import simulate
from hooklab.sim.capacity import Capacity
from hooklab.sim.workloads import OneBurst

#: A in the burst experiments: one worker, 0.1 s an event (10 a second); B waits 5 s for an answer.
WORK_S, TIMEOUT_S = 0.1, 5.0
CAPACITY_PER_S = 1 / WORK_S
#: The burst: every one of 1,000 records changes within 10 s, 100 events a second: ten times A's capacity.
RECORDS, BURST_AT_S, BURST_S = 1000, 30.0, 10.0

#: The burst experiment's figures, for the notebook's prose.
BURST = {"records": RECORDS, "burst_s": BURST_S, "work_s": WORK_S, "capacity_per_s": CAPACITY_PER_S,
         "timeout_s": TIMEOUT_S, "offered_per_s": RECORDS / BURST_S}  # fmt: skip

#: The ways A (and B) can meet the burst, in the order the notebook shows them.
RECEIVERS = {
    "inline: work, then 200": dict(capacity=Capacity(1, WORK_S, exponential=False, timeout_s=TIMEOUT_S)),
    "inbox: store, 200, work later": dict(
        capacity=Capacity(1, WORK_S, exponential=False, timeout_s=TIMEOUT_S, ack="inbox")
    ),
    "inbox + 503 over 100 waiting": dict(
        capacity=Capacity(
            1,
            WORK_S,
            exponential=False,
            timeout_s=TIMEOUT_S,
            ack="inbox",
            max_backlog=100,
            retry_after_s=10.0,
        )  # fmt: skip
    ),
    "inline, B sends at most 10/s": dict(
        capacity=Capacity(1, WORK_S, exponential=False, timeout_s=TIMEOUT_S), endpoint_rate=(10, 1.0)
    ),
}


@functools.lru_cache(maxsize=16)  # the table and the figure read the same runs: run each once
def _burst_run(receiver: str, *, seed: int = 1, duration_s: float = 3600.0, retry_schedule: str = "stripe"):
    return simulate("webhook", workload=OneBurst(at_s=BURST_AT_S, length_s=BURST_S), records=RECORDS,
                    duration_s=duration_s, seed=seed, retry_schedule=retry_schedule, **RECEIVERS[receiver])  # fmt: skip


def burst_table(*, seed: int = 1) -> pd.DataFrame:
    """One row per way of meeting the burst, over the hour from its start: attempts B made, per
    event, timed out or refused, how
    long A's worker was busy (every attempt that reached an inline A was worked on, also those B had
    stopped waiting for), lost, applied twice, and how long after its change A applied an event
    (median, slowest)."""
    rows = []
    for receiver in bar(RECEIVERS, desc="bursts simulated", unit="run"):
        run = _burst_run(receiver, seed=seed)
        s, hooks = run.summary, run.requests
        timed_out = int(hooks.status.isna().sum())  # no answer within B's timeout
        refused = int((hooks.status == 503).sum())
        # an inline A works on every attempt that reaches it; an inbox works once per stored event
        worked = len(hooks) if RECEIVERS[receiver]["capacity"].ack == "inline" else len(hooks) - refused
        rows.append({
            "receiver": receiver, "events": s["changes"], "attempts": len(hooks),
            "attempts_per_event": round(len(hooks) / s["changes"], 2),
            "timed_out": timed_out, "refused_503": refused,
            "A_busy_s": round(worked * WORK_S), "lost": s["lost"],
            "applied_twice": s["applied_twice"],
            "p50_s": round(s["latency_p50_s"], 1), "max_s": round(s["latency_max_s"], 1),
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("receiver")


def burst_arrivals(*, seed: int = 1, bin_s: float = 5.0, until_s: float = 300.0) -> pd.DataFrame:
    """Delivery attempts reaching A per second, in ``bin_s`` bins from the burst's start, one column
    per receiver (what A's load balancer would graph)."""
    bins = np.arange(0.0, until_s + bin_s, bin_s)
    columns = {}
    for receiver in RECEIVERS:
        sent = _burst_run(receiver, seed=seed).requests.time.to_numpy() - BURST_AT_S
        columns[receiver] = np.histogram(sent, bins)[0] / bin_s
    return pd.DataFrame(columns, index=pd.Index(bins[:-1], name="seconds after the burst began"))


#: The outage: A goes down just before the burst and stays down 2 hours, so every event of the burst
#: fails first within the same 10 s, and (without jitter) is retried at the same moments after.
OUTAGE_AT_S, OUTAGE_S = 25.0, 7200.0

#: What B does, in the order the notebook shows them.
HERD_SENDERS = {
    "schedule as published": {},
    "+ 50% jitter": {"jitter": 0.5},
    "at most 20/s to A": {"endpoint_rate": (20, 1.0)},
}


def herd_table(schedules: tuple[str, ...] = ("stripe", "svix"), *, seed: int = 3) -> pd.DataFrame:
    """The burst's 1,000 events with A down from just before it for 2 h, plus live traffic (each
    record changing about once an hour) and a reconciliation read every 10 minutes: for each
    provider's schedule and each way of sending, the busiest second of delivery attempts at A after
    it returned (also as a multiple of A's capacity), the busiest second of reconciliation reads,
    the longest any change took to reach A (hours), and what was lost."""
    rows = []
    back = OUTAGE_AT_S + OUTAGE_S
    runs = [(schedule, sender, extra) for schedule in schedules for sender, extra in HERD_SENDERS.items()]
    for schedule, sender, extra in bar(runs, desc="outages simulated", unit="run"):
        run = simulate("webhook", workload=OneBurst(at_s=BURST_AT_S, length_s=BURST_S, base_rate_per_s=1 / 3600),
                       records=RECORDS, duration_s=8 * 3600.0, seed=seed, retry_schedule=schedule,
                       outages=[(OUTAGE_AT_S, OUTAGE_S)], reconcile_s=600.0, **extra)  # fmt: skip
        log = run.requests
        after = log[log.time >= back]
        busiest = {
            kind: int(np.bincount((rows_.time - back).astype(int).to_numpy()).max(initial=0))
            for kind, rows_ in after.groupby("kind")
        }
        rows.append({"schedule": schedule, "sender": sender,
                     "busiest_second": busiest.get("webhook", 0),
                     "x_capacity": round(busiest.get("webhook", 0) / CAPACITY_PER_S, 1),
                     "reconcile_reads_busiest_second": busiest.get("feed", 0),
                     "slowest_change_h": round(run.summary["latency_max_s"] / 3600, 1),
                     "lost": run.summary["lost"]})  # fmt: skip
    return pd.DataFrame(rows).set_index(["schedule", "sender"])


def burst_change_times(*, seed: int = 1) -> np.ndarray:
    """When each of the burst's changes happened at B, seconds from the first (the same draw as
    the burst experiments)."""
    run = simulate("feed", workload=OneBurst(at_s=BURST_AT_S, length_s=BURST_S), records=RECORDS,
                   duration_s=BURST_AT_S + BURST_S + 1, seed=seed, interval_s=1.0)  # fmt: skip
    times = np.sort([c.changed_at for c in run.sim.provider.changes])
    return times - times[0]


def pushed(changes: np.ndarray, work_s: float = WORK_S) -> dict:
    """B pushes each change as it happens; A stores it (an inbox) and one worker applies them in
    turn: requests, the most events waiting at A at once, and each change's wait until applied."""
    done, last = np.empty(len(changes)), 0.0
    for j, at in enumerate(changes):
        last = done[j] = max(at, last) + work_s
    waiting = np.arange(1, len(changes) + 1) - np.searchsorted(done, changes, side="right")
    return {"requests": len(changes), "most_waiting_at_A": int(waiting.max()), "latencies": done - changes}


def pulled(changes: np.ndarray, interval_s: float, *, page: int = 100, work_s: float = WORK_S) -> dict:
    """A reads B's feed (up to ``page`` events an answer) only when its worker is free: after a
    full page at once, else ``interval_s`` later. The same worker and work as :func:`pushed`."""
    t, i, reads = 0.0, 0, 0
    done = np.empty(len(changes))
    most = 0
    while i < len(changes):
        arrived = int(np.searchsorted(changes, t, side="right")) - i
        k = min(page, arrived)
        reads += 1
        most = max(most, k)
        done[i : i + k] = t + work_s * np.arange(1, k + 1)
        i, t = i + k, t + k * work_s
        if k < page:
            t += interval_s
    return {"requests": reads, "most_waiting_at_A": most, "latencies": done - changes}


def pull_under_burst(intervals_s: tuple[float, ...] = (5.0, 30.0), *, seed: int = 1) -> pd.DataFrame:
    """The burst, with the same A (one worker, 0.1 s an event): B pushing into A's inbox, or A
    reading the feed when it is ready. Requests, the most events waiting at A at once (the rest wait
    at B), and how long after its change each event was applied."""
    changes = burst_change_times(seed=seed)
    runs = {"webhook: B pushes, A's inbox holds": pushed(changes)}
    for interval in intervals_s:
        runs[f"feed: A reads when free, else every {interval:g} s"] = pulled(changes, interval)
    return pd.DataFrame(
        [
            {
                "how": name,
                "requests": r["requests"],
                "most_waiting_at_A": r["most_waiting_at_A"],
                "p50_s": round(float(np.median(r["latencies"])), 1),
                "max_s": round(float(r["latencies"].max()), 1),
            }
            for name, r in runs.items()
        ]  # fmt: skip
    ).set_index("how")
