"""The simulated world: System B's and System A's cores, the network between them, the log.

:class:`Sim` puts one :class:`~hooklab.core.provider.PaymentProvider` (B) and one
:class:`~hooklab.core.shop.Shop` (A) on an :class:`~hooklab.sim.engine.Environment`, with a
modelled network. Everything that happens is a callback at a time: a workload changes a payment,
a strategy sends a request, the request reaches B (B's core answers), the answer reaches A (A's
core applies it), B's core says a settlement or a webhook delivery is due, a delivery reaches A,
A's reply reaches B. Cores get the virtual time as ``now``, as the live adapters give them the
wall clock's.

Strategies and workloads use this public interface only (``tests/test_docs.py`` checks the list
against what they use): the loop's ``at`` and ``clock``; the cores ``provider`` and ``shop``;
:meth:`Sim.request`, :meth:`Sim.create_payment`, :meth:`Sim.register_webhook`,
:meth:`Sim.change_status`, :meth:`Sim.record`, :meth:`Sim.delays`, :meth:`Sim.record_delays`,
:meth:`Sim.rng`, :meth:`Sim.down_until`, :meth:`Sim.payment_size`, :meth:`Sim.payment_path`; and
``network``, ``seed``, ``outages`` and ``event_listeners``.

Where the network's delays come from
------------------------------------
A request draws both of its one-way delays when it is sent, from a stream of its own kind
(creates, registrations, webhook deliveries, feed pages: one stream each), and a record's polls
draw from a stream of that record's own (:meth:`Sim.record_delays`). So the k-th create, the
k-th delivery and record j's k-th poll get the same delays whatever else the run does, and the
arithmetic engine (:mod:`hooklab.sim.vector`) can compute every delay without replaying the
event order. Requests are logged once, as the
sender's ``out`` row (what live runs log at the sender), with the round trip as ``duration_s``
and whether A learned something as ``news``.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from hooklab.core.contract import PAYMENTS_PATH, WEBHOOK_ENDPOINTS_PATH, WEBHOOK_PATH
from hooklab.core.delivery import Delivery
from hooklab.core.provider import DEFAULT_RETRY_SCHEDULE, PaymentProvider, SettlementModel
from hooklab.core.retry import RetryPolicy
from hooklab.core.shop import INBOX_RETENTION_S, Shop
from hooklab.measure.requestlog import COLUMNS
from hooklab.sim.capacity import Capacity, Workers
from hooklab.sim.engine import Environment, gc_paused
from hooklab.sim.network import Network, draw_stream

#: Where A's webhook endpoint lives in a simulation (the port ``hooklab consumer`` uses).
SIM_WEBHOOK_URL = "http://127.0.0.1:8001" + WEBHOOK_PATH

# numpy seed-sequence stream numbers: each source of randomness has its own stream, so changing
# one (say, the network) leaves the others (the workload's change times) exactly as they were
STREAM_DELAY, STREAM_FAILURE, STREAM_CREATE, STREAM_WORKLOAD, STREAM_RECORD_DELAY = 1, 2, 3, 4, 5
STREAM_REPLY_LOSS = 6
STREAM_SERVICE = 7
#: Draws per numpy call for one record's poll delays (a record makes few polls; any value gives the
#: same delays)
RECORD_CHUNK = 64

_INF = math.inf

#: (sender, receiver, kind, method) of the requests a run logs; rows store the index.
ROW_KINDS: list[tuple[str, str, str, str]] = [
    ("A", "B", "poll", "GET"),
    ("A", "B", "create", "POST"),
    ("A", "B", "register", "POST"),
    ("B", "A", "webhook", "POST"),
]
ROW_POLL, ROW_WEBHOOK = 0, 3


def row_kind(sender: str, receiver: str, kind: str, method: str) -> int:
    """The index of a request's (sender, receiver, kind, method) in :data:`ROW_KINDS`."""
    key = (sender, receiver, kind, method)
    if key not in ROW_KINDS:
        ROW_KINDS.append(key)
    return ROW_KINDS.index(key)


_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def make_rng(seed: int, stream: int, *key: int) -> np.random.Generator:
    """The generator of one source of randomness, fixed by ``seed``: ``numpy.random.default_rng([seed,
    stream, *key])``, built without its argument checks (it is made once per record)."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([seed & 0xFFFFFFFFFFFFFFFF, stream, *key]))
    )


def kind_key(kind: str) -> int:
    """A request kind's delay stream number: stable across runs and processes (not ``hash``)."""
    return zlib.crc32(kind.encode())


def json_size(obj: object) -> int:
    """Bytes of ``obj`` as the live apps' JSON responses render it (what live runs count)."""
    return len(_JSON.encode(obj).encode())


class Sim:
    """One simulated world: B's core, A's core, a network and the request log, on an event loop.

    ``sim.env`` is the loop; ``sim.clock`` its virtual clock (``sim.clock.t``, seconds).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        network: Network | None = None,
        settlement: SettlementModel | None = None,
        retry_schedule: str | Sequence[float] | RetryPolicy = DEFAULT_RETRY_SCHEDULE,
        outages: Sequence[tuple[float, float]] = (),
        retention_s: float = INBOX_RETENTION_S,
        jitter: float = 0.0,
        capacity: Capacity | None = None,
        endpoint_rate: tuple[int, float] | None = None,
        recovery_spread_s: float = 0.0,
    ) -> None:
        self.seed = seed
        #: A's workers, with a capacity model (None: A handles every webhook the moment it arrives)
        self.workers = Workers(capacity, self.rng(STREAM_SERVICE)) if capacity is not None else None
        #: When A is down: ``(start, end)`` in simulated seconds; its server refuses connections and
        #: its poller does nothing
        self.outages = sorted((float(a), float(b)) for a, b in outages)
        self.network = network or Network()
        self.env = Environment()
        self.clock = self.env.clock
        self.at = self.env.at  # the loop's own method: strategies schedule timers with it
        self.run = self.env.run
        self.step = self.env.step
        # seeded ids: a simulation is reproducible to the byte, ids included
        self.provider = PaymentProvider(
            seed=seed,
            settlement=settlement,
            retry_schedule=retry_schedule,
            seeded_ids=True,
            jitter=jitter,
            endpoint_rate=endpoint_rate,
            recovery_spread_s=recovery_spread_s,
        )
        self.shop = Shop(retention_s=retention_s)
        self._forget_at = -_INF if retention_s < _INF else _INF
        self._delay_streams: dict[str, Callable[[], float]] = {}
        self._lost = draw_stream(lambda rng, n: rng.random(n), self.rng(STREAM_FAILURE))
        self._reply_lost = draw_stream(lambda rng, n: rng.random(n), self.rng(STREAM_REPLY_LOSS))
        self._provider_armed = _INF
        # one tuple per request: (time sent, ROW_KINDS index, path, status or 0 for no answer,
        # duration_s, bytes, news as 1/0 or -1 for unknown, attempt: 0 except for webhooks)
        self.rows: list[tuple] = []
        self._poll_bytes: dict[tuple[str, int], int] = {}
        self._reply_sizes: dict[tuple[bool, int], int] = {}
        self._paths: dict[str, str] = {}
        self.on_created: Callable[[str], None] | None = None
        #: called whenever B has made new events (long polls and event streams answer then)
        self.event_listeners: list[Callable[[], None]] = []

    def rng(self, stream: int, *key: int) -> np.random.Generator:
        """An independent generator for one source of randomness, fixed by the seed."""
        return make_rng(self.seed, stream, *key)

    def delays(self, kind: str) -> tuple[float, float]:
        """The two one-way delays (there, back) of the next request of ``kind``, in seconds."""
        draw = self._delay_streams.get(kind)
        if draw is None:
            rng = self.rng(STREAM_DELAY, kind_key(kind))
            draw = self._delay_streams[kind] = draw_stream(self.network.delay.draw, rng)
        return draw(), draw()

    def record_delays(self, j: int) -> Callable[[], float]:
        """One-way delays of the ``j``-th record's polls, one per call (there, back, there, ...)."""
        return draw_stream(self.network.delay.draw, self.rng(STREAM_RECORD_DELAY, j), RECORD_CHUNK)

    def down_until(self, t: float) -> float | None:
        """If A is down at ``t``, when it comes back; else ``None``."""
        for start, end in self.outages:
            if start <= t < end:
                return end
        return None

    # --- A -> B requests --------------------------------------------------------------------
    def request(
        self,
        kind: str,
        method: str,
        path: str,
        serve: Callable[[object], tuple[int, object, int]],
        arg: object,
        on_answer: Callable[[int, object, object], bool | None],
        ctx: object = None,
        request_bytes: int = 0,
    ) -> None:
        """A sends B a request now. After one delay B runs ``serve(arg) -> (status, payload,
        response_bytes)``; after another, A runs ``on_answer(status, payload, ctx) -> news``
        and the request is logged (time sent, round trip, bytes both ways, news).
        """
        t = self.clock.t
        there, back = self.delays(kind)
        self.at(
            t + there, self._served, (kind, method, path, serve, arg, on_answer, ctx, request_bytes, t, back)
        )

    def _served(self, req: tuple) -> tuple:
        status, payload, nbytes = req[3](req[4])
        return self.clock.t + req[9], self._answered, (req, status, payload, nbytes)

    def _answered(self, args: tuple) -> None:
        (kind, method, path, _, _, on_answer, ctx, request_bytes, sent, _), status, payload, nbytes = args
        news = on_answer(status, payload, ctx)
        self.record(sent, row_kind("A", "B", kind, method), path, status, self.clock.t - sent,
                    request_bytes + nbytes, -1 if news is None else news, 0)  # fmt: skip

    def record(self, *row) -> None:
        """Log one request: the fields of a ``rows`` tuple, in order (see ``__init__``)."""
        self.rows.append(row)

    def payment_size(self, payment: dict) -> int:
        """Bytes of a payment's JSON body, worked out once per version."""
        key = (payment["id"], payment["version"])
        size = self._poll_bytes.get(key)
        if size is None:
            size = self._poll_bytes[key] = json_size(payment)
        return size

    def payment_path(self, payment_id: str) -> str:
        path = self._paths.get(payment_id)
        if path is None:
            path = self._paths[payment_id] = f"/payments/{payment_id}"
        return path

    def create_payment(
        self, amount: int, currency: str = "eur", *, settle: bool = False, then=None, at_b=None
    ) -> None:
        """A asks B for a payment (``POST /payments``). B creates it when the request arrives
        (and calls ``at_b(payment)``); when B's answer is back, A applies it, calls
        ``on_created(payment_id)`` (the strategy starts watching it), then ``then(payment)``.
        """
        body = {"amount": amount, "currency": currency}
        self.request("create", "POST", PAYMENTS_PATH, self._serve_create, (amount, currency, settle, at_b),
                     self._created, then, json_size(body))  # fmt: skip

    def _serve_create(self, arg: tuple) -> tuple[int, dict, int]:
        amount, currency, settle, at_b = arg
        payment = self.provider.create_payment(amount, currency, self.clock.t, settle=settle)
        if settle:
            self.provider_changed()
        if at_b is not None:
            at_b(payment)
        return 201, payment, json_size(payment)

    def _created(self, status: int, payment: dict, then) -> None:
        self.shop.apply(payment, "create", self.clock.t)
        if self.on_created is not None:
            self.on_created(payment["id"])
        if then is not None:
            then(payment)
        return None

    def register_webhook(self, then: Callable[[dict], None] | None = None) -> None:
        """A registers its endpoint with B (``POST /webhook-endpoints``) and trusts the secret."""
        body = {"url": SIM_WEBHOOK_URL}
        self.request("register", "POST", WEBHOOK_ENDPOINTS_PATH, self._serve_register, SIM_WEBHOOK_URL,
                     self._registered, then, json_size(body))  # fmt: skip

    def _serve_register(self, url: str) -> tuple[int, dict, int]:
        endpoint = self.provider.register_endpoint(url)
        return 201, endpoint, json_size(endpoint)

    def _registered(self, status: int, endpoint: dict, then) -> None:
        self.shop.add_webhook_secret(endpoint["secret"])
        if then is not None:
            then(endpoint)
        return None

    # --- B's timers and webhook deliveries --------------------------------------------------
    def provider_changed(self) -> None:
        """Call after anything that may give B's core an earlier wake-up (a change, a create)."""
        t = self.provider.next_wakeup(self.clock.t)
        if t is not None and t < self._provider_armed:
            self._provider_armed = t
            self.at(t, self._provider_wake, t)

    def _provider_wake(self, armed: float) -> None:
        if armed != self._provider_armed:
            return  # an earlier wake-up replaced this one and set its own successor
        self._provider_armed = _INF
        now = self.clock.t
        if self.provider.settle_due(now):
            for listener in self.event_listeners:
                listener()
        for delivery in self.provider.deliveries_due(now):
            self._deliver(delivery)
        self.provider_changed()

    def _deliver(self, delivery: Delivery) -> None:
        now = self.clock.t
        attempt = delivery.attempt + 1
        path = self._paths.get(delivery.endpoint.url)
        if path is None:
            path = self._paths[delivery.endpoint.url] = urlsplit(delivery.endpoint.url).path
        there, back = self.delays("webhook")
        if self._lost() < self.network.failure_prob or (self.outages and self.down_until(now + there)):
            # no answer from A: B notices after a round trip (a refused or reset connection); the
            # request is never read, so it is not signed (signing draws nothing: the run is the same)
            self.at(now + there + back, self._delivery_answered,
                    (delivery, None, now, len(delivery.body), None, attempt, path))  # fmt: skip
        else:
            _, headers, body = delivery.request(now)
            self.at(now + there, self._webhook_arrives, (delivery, headers, body, now, attempt, path, back))

    def _webhook_arrives(self, args: tuple) -> tuple | None:
        if self.workers is None:
            return self._webhook_served(args)
        if self.workers.capacity.ack == "inbox":
            return self._webhook_stored(args)
        delivery, headers, body, sent, attempt, path, back = args
        done = self.workers.admit(self.clock.t)  # A's queue: served when a worker is free
        timeout = self.workers.capacity.timeout_s
        if done + back - sent > timeout:  # B stops waiting first: a failed attempt, retried later
            self.at(
                sent + timeout,
                self._delivery_answered,
                (delivery, None, sent, len(body), None, attempt, path),
            )
            self.at(done, self._webhook_served, args + (True,))  # A still does the work
            return None
        return done, self._webhook_served, args

    def _webhook_served(self, args: tuple) -> tuple | None:
        delivery, headers, body, sent, attempt, path, back, *abandoned = args
        now = self.clock.t
        if now >= self._forget_at:  # an inbox that keeps ids for retention_s only (never, by default)
            self.shop.forget_old_events(now)
            self._forget_at = now + self.shop.retention_s / 10
        reply = self.shop.receive_webhook(body, headers, now)
        nbytes = len(body) + self._reply_size(reply)
        status = reply.status
        if self.network.reply_loss_prob and self._reply_lost() < self.network.reply_loss_prob:
            status = None  # A applied it; its 200 never reached B
        if abandoned:  # B timed out on this attempt already: A's answer goes nowhere
            return None
        return (now + back, self._delivery_answered,
                (delivery, status, sent, nbytes, reply.news, attempt, path))  # fmt: skip

    def _webhook_stored(self, args: tuple) -> tuple:
        """A with an inbox: refuse (503) while ``max_backlog`` events wait, else store the event and
        answer ``ack_s`` later; a worker applies it when free (its wait is the inbox's queue)."""
        delivery, headers, body, sent, attempt, path, back = args
        now, capacity = self.clock.t, self.workers.capacity
        answered = now + capacity.ack_s
        if capacity.max_backlog is not None and self.workers.backlog(now) >= capacity.max_backlog:
            refusal = {"error": {"code": "backlog_full"}}  # nothing stored: B tries again after Retry-After
            return (answered + back, self._delivery_answered,
                    (delivery, 503, sent, len(body) + json_size(refusal), False, attempt, path, capacity.retry_after_s))  # fmt: skip
        reply = self.shop.receive_webhook(body, headers, now, defer=True)
        if reply.status == 200 and not reply.body["duplicate"]:
            event_id = reply.body["event"]
            self.at(self.workers.admit(now), self._apply_stored, event_id)
        nbytes = len(body) + self._reply_size(reply)
        return (answered + back, self._delivery_answered,
                (delivery, reply.status, sent, nbytes, reply.news, attempt, path))  # fmt: skip

    def _apply_stored(self, event_id: str) -> None:
        pending = self.shop.inbox.get(event_id)
        if pending is not None:
            self.shop.apply_event(event_id, pending[0]["data"]["object"], self.clock.t)

    def _reply_size(self, reply) -> int:
        """Bytes of A's answer: a 2xx is ``{"received", "duplicate", "event"}`` with an ASCII id, so its
        size depends on the flag and the id's length only (worked out once for each)."""
        if reply.status != 200:
            return json_size(reply.body)
        key = (reply.body["duplicate"], len(reply.body["event"]))
        size = self._reply_sizes.get(key)
        if size is None:
            size = self._reply_sizes[key] = json_size(reply.body)
        return size

    def _delivery_answered(self, args: tuple) -> None:
        delivery, status, sent, nbytes, news, attempt, path, *retry_after = args
        now = self.clock.t
        self.provider.delivery_finished(
            delivery, status, now, retry_after_s=retry_after[0] if retry_after else None
        )
        self.record(sent, ROW_WEBHOOK, path, 0 if status is None else status, now - sent, nbytes,
                    -1 if news is None else news, attempt)  # fmt: skip
        self.provider_changed()

    # --- workload hook ----------------------------------------------------------------------
    def change_status(self, payment_id: str, status: str) -> None:
        """B changes a payment now (the workload's doing); deliveries, if any, are planned."""
        self.provider.update_status(payment_id, status, self.clock.t)
        if self.provider.endpoints:
            self.provider_changed()
        for listener in self.event_listeners:
            listener()

    # --- measurements -----------------------------------------------------------------------
    def request_columns(self) -> dict[str, np.ndarray]:
        """The request log as columns (see ``__init__`` for the fields), in the order it was logged."""
        rows = self.rows
        n = len(rows)
        with gc_paused():
            cols = list(zip(*rows, strict=True)) if n else [()] * 8
            path = np.empty(n, dtype=object)
            path[:] = cols[2]
            return {
                "time": np.fromiter(cols[0], float, n),
                "which": np.fromiter(cols[1], np.int64, n),
                "path": path,
                "status": np.fromiter(cols[3], np.int64, n),
                "duration_s": np.fromiter(cols[4], float, n),
                "bytes": np.fromiter(cols[5], np.int64, n),
                "news": np.fromiter(cols[6], np.int8, n),
                "attempt": np.fromiter(cols[7], np.int64, n),
            }

    def request_frame(self, start: float = 0.0, end: float = _INF) -> tuple[pd.DataFrame, np.ndarray]:
        """The request log (rows sent in ``[start, end)``, times shifted so ``start`` is 0),
        sorted by time, with the standard columns and dtypes; and each row's delivery attempt.
        """
        columns = self.request_columns()
        frame, order = request_frame(columns, start, end)
        return frame, columns["attempt"][order]


def request_frame(
    columns: dict[str, np.ndarray], start: float = 0.0, end: float = _INF
) -> tuple[pd.DataFrame, np.ndarray]:
    """A request-log frame from columns (``Sim.request_columns``; the arithmetic engine makes the
    same): the rows sent in ``[start, end)``, by time, times shifted so ``start`` is 0, the live
    runs' columns and dtypes; and where each row came from in ``columns`` (to read more of them).
    """
    time = columns["time"]
    with gc_paused():
        keep = (time >= start) & (time < end)
        order = np.argsort(time, kind="stable")
        order = order[keep[order]]
        m = len(order)
        which = columns["which"][order]
        status = columns["status"][order]
        news = columns["news"][order]
        # np.take, not np.full, for constant text columns: filling an object array is 5x slower
        kinds = [np.array([k[f] for k in ROW_KINDS], dtype=object)[which] for f in range(4)]
        frame = pd.DataFrame(
            {
                "time": time[order] - start,
                "observer": kinds[0],
                "direction": np.array(["out"], dtype=object)[np.zeros(m, np.intp)],
                "sender": kinds[0],
                "receiver": kinds[1],
                "kind": kinds[2],
                "method": kinds[3],
                "path": columns["path"][order],
                "status": pd.arrays.IntegerArray(status, status == 0),
                "duration_s": columns["duration_s"][order],
                "bytes": columns["bytes"][order],
                "news": pd.arrays.BooleanArray(news > 0, news < 0),
            },
            columns=list(COLUMNS),
        )
    return frame, order
