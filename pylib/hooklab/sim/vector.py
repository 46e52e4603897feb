"""The arithmetic engine: polling and webhooks worked out with numpy, equal to the event engine's result.

Why two engines
---------------
The event engine (:mod:`hooklab.sim.engine` with :mod:`hooklab.sim.world`) runs B's and A's real
cores callback by callback: every poll is three Python calls, every webhook is signed by B and
verified by A. It can run anything (retries, lost deliveries, settlements, any strategy), and that is
its job. But a learner who polls 500 records every second for an hour asks it for 1.8 million polls
and waits half a minute.

Yet periodic polling is arithmetic. Record ``i`` is polled at ``a_i + T, a_i + 2T, ...`` (``a_i``:
when A learned it exists); each poll is served after its drawn delay; it sees the version that B's
changes (Poisson times, drawn in advance) have reached by then; it is news if that version is newer
than the last one A saw. A webhook leaves B at its change's time and arrives after its delay. So
this module computes with array operations what the event engine computes one callback at a time:
when each request was sent and answered, what it found, how many bytes it carried, when A learned
each change. Cost O(records x polls per record) in numpy, not in Python: about a hundred times
faster (``benchmarks/bench_sim.py``).

It is not a second model. It takes the same draws from the same streams (the workload's
:meth:`~hooklab.sim.workloads.ChangeWorkload.plan`, the delay streams of :mod:`hooklab.sim.world`,
B's id generator), makes the frames of the event engine row for row, and ``tests/test_vector.py``
checks that over a grid of modes, intervals, workloads, delays and seeds the two give *equal*
frames and summaries (``pandas.testing.assert_frame_equal(check_exact=True)``).

When it runs: modes ``poll``, ``webhook`` and ``hybrid`` under a change workload (``poisson``,
``bursts``, ``daily``), with no lost deliveries (every first attempt succeeds, so B never retries),
and every poll answered before the record's next poll is due (checked on the drawn delays). Anything
else, or ``engine="events"``, runs the event engine. Equal times of two different events (a change
at the very moment a poll is served) have probability zero with continuous draws and are not
modelled.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from hooklab.core.contract import encode_event, event_type
from hooklab.core.modes import VECTOR_MODES
from hooklab.core.provider import make_event, seeded_id
from hooklab.measure.summary import LATENCY_COLUMNS, change_latencies
from hooklab.sim.workloads import CHANGE_STATUSES, ChangeWorkload
from hooklab.sim.world import (
    ROW_POLL,
    ROW_WEBHOOK,
    SIM_WEBHOOK_URL,
    STREAM_DELAY,
    STREAM_RECORD_DELAY,
    Sim,
    json_size,
    kind_key,
    make_rng,
)

MODES = VECTOR_MODES
_FIRST_STATUS = "pending"  # what B's core creates a payment as


def why_not(mode: object, workload: object, network, records: int, *, outages=(), reconciled: bool = False,
            capacity=None, throttled: bool = False) -> str | None:  # fmt: skip
    """The one rule for when the arithmetic engine runs: why it cannot run this, or ``None`` if it
    can. It runs a mode it knows by name (:data:`MODES`) over a change workload, without anything
    that makes B retry (lost deliveries, lost replies, outages) and without a feed. One more
    condition shows only in the drawn numbers: a poll's answer must come before the record's next
    poll is due; :func:`run` returns ``None`` when it does not, and ``simulate`` runs the events."""
    if not isinstance(mode, str):
        return "a Strategy object (the vector engine knows the modes by name)"
    if mode not in MODES:
        return f"mode {mode!r} is not one of {MODES}"
    if not isinstance(workload, ChangeWorkload):
        return f"the {type(workload).__name__} workload is not a change workload (poisson, bursts, daily)"
    if mode != "poll" and network.failure_prob > 0:
        return "lost deliveries make B retry, which only the event engine models"
    if outages or network.reply_loss_prob > 0:
        return "outages and lost replies make B retry, which only the event engine models"
    if reconciled:
        return "reconciliation over GET /events is a feed, which only the event engine models"
    if capacity is not None:
        return "A's capacity (a queue of workers) is a model only the event engine runs"
    if throttled:
        return (
            "B's endpoint rate and spread recovery hold deliveries back, which only the event engine models"
        )
    if records < 1:
        return "there are no records"
    return None


@dataclass
class Window:
    """Where the measured window lies, as :func:`hooklab.sim.run.simulate` places it: the clock
    starts at ``begin_s``, the window opens at ``start_s``, changes are drawn from ``lead_s`` before."""

    begin_s: float
    start_s: float
    spread_s: float
    lead_s: float
    span_s: float
    duration_s: float
    drain_s: float


class RecordDelays:
    """Each record's poll delays (``Sim.record_delays``), drawn once and kept: a sweep over twenty
    intervals draws them for the shortest and reads prefixes for the others."""

    def __init__(self, seed: int, delay) -> None:
        self.seed, self.delay = seed, delay
        self._rngs: list[np.random.Generator] = []
        self._draws: list[np.ndarray] = []

    def matrix(self, records: int, n: int) -> np.ndarray:
        """A ``(records, n)`` array: row ``j`` is the first ``n`` delays of the ``j``-th record."""
        out = np.empty((records, n))
        for j in range(records):
            if j == len(self._rngs):
                self._rngs.append(make_rng(self.seed, STREAM_RECORD_DELAY, j))
                self._draws.append(np.empty(0))
            have = self._draws[j]
            if len(have) < n:  # the generator goes on where it stopped: the stream is the same
                more = self.delay.draw(self._rngs[j], max(n - len(have), 64))
                have = self._draws[j] = np.concatenate([have, more])
            out[j] = have[:n]
        return out


@functools.lru_cache(maxsize=2)
def record_delays(seed: int, delay) -> RecordDelays:
    return RecordDelays(seed, delay)


class TimeText:
    """Characters of each change time as B's JSON writes it (``repr``), kept between runs: every run
    of a workload opens its window at the same moment, so its change times are the same floats,
    and the ``repr`` of a float is the costliest step of a sweep otherwise."""

    def __init__(self) -> None:
        self.values, self.chars = np.empty(0), np.empty(0, np.int64)

    def lengths(self, times: np.ndarray) -> np.ndarray:
        at = np.minimum(np.searchsorted(self.values, times), max(len(self.values) - 1, 0))
        known = (self.values[at] == times) if len(self.values) else np.zeros(len(times), bool)
        if not known.all():
            new = np.unique(times[~known])
            values = np.concatenate([self.values, new])
            order = np.argsort(values, kind="stable")
            self.values = values[order]
            self.chars = np.concatenate([self.chars, _repr_len(new)])[order]
            at = np.searchsorted(self.values, times)
        return self.chars[at]


@functools.lru_cache(maxsize=4)
def _time_text(workload, seed: int, start: float) -> TimeText:
    return TimeText()


def _kind_pairs(sim: Sim, kind: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` (there, back) delays of requests of ``kind`` (``Sim.delays``)."""
    draws = sim.network.delay.draw(sim.rng(STREAM_DELAY, kind_key(kind)), 2 * n)
    return draws[0::2], draws[1::2]


def _repr_len(values: np.ndarray) -> np.ndarray:
    """Characters of each float as JSON writes it (Python's shortest repr)."""
    return np.fromiter(map(len, map(repr, values.tolist())), np.int64, len(values))


_POWERS = 10 ** np.arange(1, 19, dtype=np.int64)


def _digits(values: np.ndarray) -> np.ndarray:
    """Characters of each non-negative integer in decimal."""
    return 1 + np.searchsorted(_POWERS, values, side="right")


def _payment_ids(sim: Sim, b: np.ndarray) -> list[str]:
    """Each record's payment id, named as B's core names it: the k-th payment B creates is
    ``seeded_id(seed, "pay", k)``, and B creates them in the order of ``b``."""
    rank = np.empty(len(b), np.int64)
    rank[np.argsort(b, kind="stable")] = np.arange(len(b))
    return [seeded_id(sim.seed, "pay", k) for k in rank.tolist()]


@dataclass
class _Changes:
    """B's changes that happened (after their record existed), in time order, and per record."""

    time: np.ndarray  # absolute, time order
    record: np.ndarray
    version: np.ndarray
    code: np.ndarray  # index into CHANGE_STATUSES
    first: np.ndarray  # per record: where its changes start in by_record
    by_record: np.ndarray  # positions into the time-ordered arrays, record-major, time order within


def _changes(plan, start: float, b: np.ndarray, records: int) -> _Changes:
    times = plan.times + start
    keep = times > b[plan.index]  # a change before B created the record did not happen
    time, record = times[keep], plan.index[keep]
    by_record = np.argsort(record, kind="stable")
    counts = np.bincount(record, minlength=records)
    first = np.cumsum(counts) - counts
    ordinal = np.empty(len(record), np.int64)
    ordinal[by_record] = np.arange(len(record)) - first[record[by_record]]
    return _Changes(time, record, ordinal + 2, ordinal % len(CHANGE_STATUSES), first, by_record)


class _Payments:
    """What B answers about record ``i`` at version ``v``: one row of a table per version (records +
    their changes), with its ``updated_at``, status and, when asked, the bytes of its JSON."""

    def __init__(self, ids: list[str], amounts: np.ndarray, b: np.ndarray, ch: _Changes, time_len) -> None:
        records = len(b)
        counts = np.diff(np.append(ch.first, len(ch.time)))
        # row of (record i, version 1) in the table; version v is v - 1 rows further down
        self.row = ch.first + np.arange(records)
        self.record = np.repeat(np.arange(records), counts + 1)
        self.version = np.arange(len(self.record)) - self.row[self.record] + 1
        changed = self.version >= 2
        k = ch.by_record  # record-major, time order: row by row, the changes behind versions 2, 3, ...
        created_len = _repr_len(b)
        # characters of updated_at: the creation time at version 1, then each change's time
        self.updated_len = created_len[self.record]
        self.updated_len[changed] = time_len[k]
        self.time_len = time_len
        self.status_len = np.full(len(self.record), len(_FIRST_STATUS))
        self.status_len[changed] = np.array([len(x) for x in CHANGE_STATUSES])[ch.code[k]]
        proto = {"id": ids[0], "status": "", "amount": 0, "currency": "eur", "version": 0,
                 "created_at": 0.0, "updated_at": 0.0}  # fmt: skip
        # the JSON of a payment is a fixed frame plus its fields' text: the frame once, the fields by length
        self.base = json_size(proto) - len("0") - 2 * len("0.0") - len("0")
        self.per_record = (
            np.fromiter(map(len, ids), np.int64, records) - len(ids[0])
            + _digits(amounts.astype(np.int64)) + created_len
        )  # fmt: skip

    def at(self, record: np.ndarray, version: np.ndarray) -> np.ndarray:
        """Rows of the table for these (record, version) pairs."""
        return self.row[record] + version - 1

    def size(self, rows: np.ndarray) -> np.ndarray:
        """Bytes of the JSON of each row's payment."""
        return (
            self.base + self.per_record[self.record[rows]] + _digits(self.version[rows])
            + self.updated_len[rows] + self.status_len[rows]
        )  # fmt: skip


def run(sim: Sim, strategy, work: ChangeWorkload, records: int, window: Window):
    """Compute a run; ``None`` if a condition the arithmetic needs does not hold (then the caller runs
    the event engine). Returns ``(rows, latencies, start, end)``: the request log's columns (before
    the window is cut) and every change's latency row, as the event engine's ``Sim`` gives them.
    """
    mode = strategy.mode
    # conditional polling makes plain polling's polls; only what an unchanged one carries differs
    polls, hooks = mode in ("poll", "hybrid", "conditional"), mode in ("webhook", "hybrid")
    t0 = window.begin_s
    if hooks:  # A registers first (one round trip); the workload starts when the answer is back
        there, back = _kind_pairs(sim, "register", 1)
        t0 = (t0 + float(there[0])) + float(back[0])
    start = window.start_s
    end, until = start + window.duration_s, start + window.duration_s + window.drain_s
    plan = work.plan(sim, records, spread_s=window.spread_s, lead_s=window.lead_s, span_s=window.span_s)
    if len(plan.times) and plan.times[-1] + start > until:
        return None

    # A's creates: sent in time order, each with the next pair of the create stream
    sent = t0 + plan.offsets
    order = np.argsort(sent, kind="stable")
    there, back = np.empty(records), np.empty(records)
    there[order], back[order] = _kind_pairs(sim, "create", records)
    b = sent + there  # B creates the payment
    a = b + back  # A learns it exists (version 1) and starts watching it
    ch = _changes(plan, start, b, records)
    ids = _payment_ids(sim, b)
    payments = _Payments(ids, plan.amounts, b, ch, _time_text(work, sim.seed, start).lengths(ch.time))

    # what reaches A, per record: (record, time A applies it, version), and the request rows
    arrivals = [(np.arange(records), a, np.ones(records, np.int64))]
    rows: list[dict] = []
    if polls:
        got = _polls(sim, strategy.interval_s, a, ch, payments, until, ids)
        if got is None:
            return None
        arrivals.append(got[0])
        rows.append(got[1])
        if not hooks:
            rows[0]["news"], learned_at, seen = got[2]
    if hooks:
        got = _webhooks(sim, ch, payments, until, ids)
        arrivals.append(got[0])
        rows.append(got[1])
        answered = got[2]  # of the deliveries applied, those whose answer B had by the end (its rows)
        news, learned_at, seen = _knowledge(arrivals, ch)
        if polls:
            rows[0]["news"] = news[records : records + len(rows[0]["time"])]
        rows[-1]["news"] = news[len(news) - len(answered) :][answered]
    if mode == "conditional":  # a poll that brought nothing new was a 304: no body
        unchanged = rows[0]["news"] == 0
        rows[0]["status"] = np.where(unchanged, 304, rows[0]["status"])
        rows[0]["bytes"] = np.where(unchanged, 0, rows[0]["bytes"])
    if not len(ch.time):  # no change at all: the same empty frame as the event engine's
        return _columns(rows), change_latencies([], []), start, end
    latencies = pd.DataFrame(
        {
            "payment_id": np.array(ids, dtype=object)[ch.record],
            "version": ch.version,
            "status": np.array(CHANGE_STATUSES, dtype=object)[ch.code],
            "changed_at": ch.time,
            "learned_at": learned_at,
            "latency_s": learned_at - ch.time,
            "detected": ~np.isnan(learned_at),
            "superseded": ~np.isnan(learned_at) & ~seen,
        },
        columns=list(LATENCY_COLUMNS),
    )
    return _columns(rows), latencies, start, end


def _columns(rows: list[dict]) -> dict[str, np.ndarray]:
    return {k: Paths.concatenate([r[k] for r in rows]) if k == "path" else np.concatenate([r[k] for r in rows])
            for k in rows[0]}  # fmt: skip


class Paths:
    """A path column as codes into a table of paths: the text of a row is looked up only if a
    request frame is made (``paths[order]``), not for every poll of a sweep."""

    def __init__(self, table: np.ndarray, codes: np.ndarray) -> None:
        self.table, self.codes = table, codes

    def __getitem__(self, rows) -> np.ndarray:
        return self.table[self.codes[rows]]

    def __len__(self) -> int:
        return len(self.codes)

    @staticmethod
    def concatenate(parts: list) -> Paths:
        parts = [p if isinstance(p, Paths) else Paths(p, np.arange(len(p))) for p in parts]
        offsets = np.cumsum([0] + [len(p.table) for p in parts[:-1]])
        table = np.concatenate([p.table for p in parts])
        return Paths(table, np.concatenate([p.codes + o for p, o in zip(parts, offsets, strict=True)]))


def _polls(sim: Sim, interval: float, a: np.ndarray, ch: _Changes, payments: _Payments, until: float, ids):
    records = len(a)
    watch = np.argsort(a, kind="stable")  # the j-th record A watches polls with the j-th delay stream
    first = a + interval  # PollSchedule.add: the first poll one interval after A learned of the record
    n = int((until - first.min()) // interval) + 2
    steps = np.full((records, n), interval)
    steps[:, 0] = first
    sent = np.cumsum(steps, axis=1)  # adds one interval at a time, as PollSchedule.polled does
    delays = np.empty((records, 2 * n))
    delays[watch] = record_delays(sim.seed, sim.network.delay).matrix(records, 2 * n)
    served = sent + delays[:, 0::2]
    answered = served + delays[:, 1::2]
    made = sent <= until
    if made[:, -1].any():
        return None  # more polls than planned (float rounding at the horizon): let the events decide
    if not np.all((answered[:, :-1] < sent[:, 1:]) | ~made[:, 1:]):
        return None  # an answer came after the next poll was due: the poller's schedule shifts
    # the first poll served after each change sees it: a guess from the grid, then corrected exactly
    rec = ch.record
    k = np.clip(np.ceil((ch.time - first[rec]) / interval).astype(np.int64), 0, n - 1)
    for _ in range(n):
        late = served[rec, k] <= ch.time
        early = (k > 0) & (served[rec, np.maximum(k - 1, 0)] > ch.time)
        if not (late & (k < n - 1)).any() and not early.any():
            break
        k = np.where(late & (k < n - 1), k + 1, np.where(early, k - 1, k))
    k = np.where(served[rec, k] <= ch.time, n, k)  # served by no poll of this run
    first_seen = np.bincount(rec * (n + 1) + k, minlength=records * (n + 1)).reshape(records, n + 1)
    version = 1 + np.cumsum(first_seen[:, :n], axis=1)
    done = answered <= until
    r = np.broadcast_to(np.arange(records)[:, None], (records, n))[done]
    v = version[done]
    size = payments.size(payments.at(r, v))
    paths = np.array([f"/payments/{pid}" for pid in ids], dtype=object)
    s = sent[done]
    rows = {
        "time": s, "which": np.full(len(s), ROW_POLL), "path": Paths(paths, r), "status": np.full(len(s), 200),
        "duration_s": answered[done] - s, "bytes": size, "attempt": np.zeros(len(s), np.int64),
    }  # fmt: skip
    # polling alone: A's knowledge is the last poll's answer, so the arithmetic is direct (the
    # general case, with webhooks arriving in between, is _knowledge)
    before = np.concatenate([np.ones((records, 1), np.int64), version[:, :-1]], axis=1)
    news = (version > before)[done]
    found = k < n
    kk = np.minimum(k, n - 1)
    found &= done[rec, kk]
    learned = np.where(found, answered[rec, kk], np.nan)
    seen = found & (version[rec, kk] == ch.version)
    return (r, answered[done], v), rows, (news, learned, seen)


def _webhooks(sim: Sim, ch: _Changes, payments: _Payments, until: float, ids):
    # B sends each change's delivery at the change's time, in that order: the webhook stream's pairs
    there, back = _kind_pairs(sim, "webhook", len(ch.time))
    arrive = ch.time + there
    answer = arrive + back
    row = payments.at(ch.record, ch.version)
    size = payments.size(row)
    proto = make_event("evt_" + "0" * 16, {"id": ids[0], "status": "", "amount": 0, "currency": "eur",
                                           "version": 0, "created_at": 0.0, "updated_at": 0.0}, 0.0)  # fmt: skip
    # the event's JSON is the payment's plus its envelope, its type and its time (twice: created, updated_at)
    envelope = len(encode_event(proto)) - json_size(proto["data"]["object"]) - len("0.0") - len(proto["type"])
    types = len(event_type("")) + payments.status_len[row]
    reply = json_size({"received": True, "duplicate": False, "event": proto["id"]})
    applied = arrive <= until
    done = answer <= until
    path = np.full(int(done.sum()), urlsplit(SIM_WEBHOOK_URL).path, dtype=object)
    rows = {
        "time": ch.time[done], "which": np.full(int(done.sum()), ROW_WEBHOOK), "path": path,
        "status": np.full(int(done.sum()), 200), "duration_s": (answer - ch.time)[done],
        "bytes": (envelope + types + payments.time_len + size + reply)[done],
        "attempt": np.ones(int(done.sum()), np.int64),
    }  # fmt: skip
    # a delivery answered in time was applied in time; one applied but unanswered at the end has no row
    arrivals = (ch.record[applied], arrive[applied], ch.version[applied])
    return arrivals, rows, done[applied]


def _knowledge(arrivals, ch: _Changes):
    """A applies what arrives in time order: news if newer than all it had (Shop.apply). Returns each
    arrival's news (in the order given), each change's learned_at (NaN: never) and whether A saw
    that version itself."""
    rec = np.concatenate([x[0] for x in arrivals])
    t = np.concatenate([x[1] for x in arrivals])
    v = np.concatenate([x[2] for x in arrivals])
    top = int(v.max()) + 1
    order = np.lexsort((t, rec))
    key = rec[order] * top + v[order]
    best = np.maximum.accumulate(key)
    is_news = np.empty(len(key), bool)
    is_news[0] = True
    is_news[1:] = key[1:] > best[:-1]
    news = np.empty(len(key), bool)
    news[order] = is_news
    want = ch.record * top + ch.version
    at = np.minimum(np.searchsorted(best, want, side="left"), len(best) - 1)
    found = (best[at] >= want) & (best[at] < (ch.record + 1) * top)
    learned = np.where(found, t[order][at], np.nan)
    # the first arrival that told A of version v or later was news; if it carried exactly v, A saw v
    # (no later arrival of v can be news, no earlier one exists)
    seen = found & (key[at] == want)
    return news, learned, seen
