"""Strategies: how System A learns of changes in System B.

A strategy is small: :meth:`Strategy.start` (set up, then call ``ready()``), :meth:`Strategy.watch`
(A now knows a record; called when B's answer to the create arrives), and two numbers the engine
needs to place the measured window (:meth:`Strategy.warmup_s`, :meth:`Strategy.horizon_s`). It
acts through the engine (``sim.at`` for timers, ``sim.request`` for requests to B,
``sim.register_webhook``) and through A's core (``sim.shop``). Webhook deliveries themselves are
B's doing and run in the engine whenever B has an endpoint registered.

More strategies fit the same shape without touching the engine. :class:`Feed` is the proof: a
changes feed built from ``sim.at`` (its timer), ``sim.request`` (``GET /events`` served by
``PaymentProvider.list_events``) and ``Shop.apply``. Conditional requests (a ``serve`` that
answers 304 when the version is unchanged) and long polling (a ``serve`` that holds the answer
until a change or a timeout via ``sim.at``) would go the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from hooklab.core import adaptive
from hooklab.core.contract import FINAL_STATUSES
from hooklab.core.shop import PollSchedule
from hooklab.sim.world import ROW_POLL, Sim, json_size, row_kind


class Strategy:
    """Base class: subclasses override what they need. ``mode`` picks the summary's requests."""

    mode = "poll"

    def start(self, sim: Sim, ready: Callable[[], None]) -> None:
        """Set up at time 0 (e.g. register a webhook endpoint), then call ``ready()``."""
        self.sim = sim
        ready()

    def watch(self, payment_id: str) -> None:
        """A created ``payment_id`` and now cares about it."""

    def warmup_s(self) -> float:
        """How long to run before measuring, so that the measured window is in steady state."""
        return 0.0

    def horizon_s(self, sim: Sim) -> float:
        """How long after a change A may need to learn it (the run drains this long)."""
        return 0.0

    def setup_s(self, sim: Sim) -> float:
        """How long :meth:`start` may take before it calls ``ready()`` (the run starts that early)."""
        return 0.0

    def describe(self) -> dict:
        return {"mode": self.mode}


class Poll(Strategy):
    """A polls each record every ``interval_s`` seconds, from when it created it (``GET
    /payments/{id}``), through :class:`~hooklab.core.shop.PollSchedule` and ``Shop.apply``, exactly as
    the live poller does. With ``until_final`` it stops polling a payment once it is final;
    otherwise it polls for as long as the run lasts. The next poll of a record is planned when
    the answer to the last is back (one request per record in flight, like the live poller).
    """

    mode = "poll"

    def __init__(
        self,
        interval_s: float,
        *,
        until_final: bool = False,
        conditional: bool = False,
        intervals: Callable[[int], float] | None = None,
    ) -> None:
        self.schedule = PollSchedule(interval_s)
        self.interval_s = self.schedule.interval_s
        self.until_final = until_final
        #: send If-None-Match with the version A has: an unchanged record answers 304, no body
        self.conditional = conditional
        if conditional:
            self.mode = "conditional"
        #: the j-th record's own interval, if records are polled at different rates
        self.intervals = intervals
        self._armed = math.inf
        self._delays: dict[str, Callable[[], float]] = {}

    def start(self, sim: Sim, ready: Callable[[], None]) -> None:
        self.sim = sim
        ready()

    def watch(self, payment_id: str) -> None:
        # the j-th record A watches has its own stream of delays (sim.world: where delays come from)
        j = len(self._delays)
        self._delays[payment_id] = self.sim.record_delays(j)
        self.schedule.add(payment_id, self.sim.clock.t, None if self.intervals is None else self.intervals(j))
        self._arm()

    def _arm(self) -> None:
        t = self.schedule.next_at()
        if t is not None and t < self._armed:
            self._armed = t
            # overdue (an answer took longer than the interval): poll at once, as the live poller does
            self.sim.at(max(t, self.sim.clock.t), self._wake)

    # One poll is three steps, each a callback at its own time: A sends (_wake), B answers from
    # its core (_served), A applies the answer (_answered). Written out here rather than through
    # Sim.request because polls are nearly all the events of a polling run.
    def _wake(self, _: object) -> tuple | None:
        self._armed = math.inf
        sim = self.sim
        now = sim.clock.t
        if sim.outages:
            back = sim.down_until(now)
            if back is not None:  # A is down: its poller starts again when A does
                self._armed = back
                sim.at(back, self._wake)
                return None
        due = self.schedule.due(now)
        served, delays = self._served, self._delays
        if self.conditional:  # the tag A sends: the version it has
            known = sim.shop.payments
            for payment_id in due:
                draw = delays[payment_id]
                there = draw()
                sim.at(now + there, served, (payment_id, now, draw(), known[payment_id]["version"]))
            self._arm()
            return None
        for payment_id in due[:-1]:
            draw = delays[payment_id]
            there = draw()
            sim.at(now + there, served, (payment_id, now, draw()))
        self._arm()
        if due:  # the last poll goes out as this callback's follow-up (see Sim.run)
            draw = delays[due[-1]]
            there = draw()
            return now + there, served, (due[-1], now, draw())
        return None

    def _served(self, req: tuple) -> tuple:
        sim = self.sim
        payment = sim.provider.get_payment(req[0])
        if self.conditional and payment["version"] == req[3]:
            return sim.clock.t + req[2], self._answered, (req, None, 0)  # 304: no body
        return sim.clock.t + req[2], self._answered, (req, payment, sim.payment_size(payment))

    def _answered(self, args: tuple) -> None:
        req, payment, size = args
        payment_id, sent = req[0], req[1]
        sim = self.sim
        now = sim.clock.t
        if payment is None:  # 304 Not Modified: what A has is current
            status, news, payment = 304, False, sim.shop.payments[payment_id]
        else:
            status, news = 200, sim.shop.apply(payment, "poll", now)
        done = self.until_final and payment["status"] in FINAL_STATUSES
        self.schedule.polled(payment_id, sent, done=done)
        if (
            not done and sent + self.schedule.interval_of(payment_id) < self._armed
        ):  # else the wake-up set does
            self._arm()
        sim.record(sent, ROW_POLL, sim.payment_path(payment_id), status, now - sent, size, news, 0)
        return None

    def warmup_s(self) -> float:
        return self.interval_s

    def horizon_s(self, sim: Sim) -> float:
        return self.interval_s + 4 * sim.network.delay.high_s

    def describe(self) -> dict:
        return {"mode": self.mode, "interval_s": self.interval_s}


class Adaptive(Poll):
    """Polling under a fixed budget, spent where it buys most freshness (Cho and Garcia-Molina,
    :mod:`hooklab.core.adaptive`): every record starts at ``interval_s``; every ``every_s`` A
    estimates each record's rate of change from its own polls (n polls, X with news:
    r = -ln((n - X + 0.5) / (n + 0.5))) and re-allocates the same budget (records / ``interval_s``
    polls per second) to maximise mean freshness. Conditional requests, so an unchanged record
    costs no quota. A record is polled at least every ``max_interval_s``, so its estimate stays
    current.
    """

    mode = "adaptive"

    def __init__(
        self, interval_s: float, *, every_s: float | None = None, max_interval_s: float | None = None
    ) -> None:
        super().__init__(interval_s, conditional=True)
        self.mode = "adaptive"
        self.every_s = every_s or 10 * interval_s
        self.budget = adaptive.PollBudget(interval_s, max_interval_s)

    def start(self, sim: Sim, ready: Callable[[], None]) -> None:
        self.sim = sim
        sim.at(sim.clock.t + self.every_s, self._reallocate)
        ready()

    def _answered(self, args: tuple) -> None:
        req, payment, _ = args
        # a 200 under If-None-Match: the record had changed since A's version
        self.budget.polled(req[0], payment is not None, self.schedule.interval_of(req[0]))
        return super()._answered(args)

    def _reallocate(self, _: object) -> None:
        ids = list(self._delays)
        for pid, interval in zip(ids, self.budget.intervals(ids), strict=True):
            self.schedule.set_interval(pid, interval)
        self.sim.at(self.sim.clock.t + self.every_s, self._reallocate)

    def describe(self) -> dict:
        return {"mode": self.mode, "interval_s": self.interval_s, "every_s": self.every_s}


class LongPoll(Strategy):
    """Long polling (RFC 6202) on B's feed: A keeps one ``GET /events?after=<cursor>&wait=<wait_s>``
    open; B answers as soon as an event after the cursor exists, or empty when ``wait_s`` passes;
    A asks again at once. A change reaches A one network hop after B makes it (if a request is
    waiting), and the requests are about one per change (batched when changes come close) plus one
    per ``wait_s`` of quiet."""

    mode = "long-poll"

    def __init__(self, wait_s: float = 30.0, *, limit: int = 100) -> None:
        self.wait_s, self.limit = float(wait_s), limit
        self.after: str | None = None
        self._held: tuple | None = None

    def start(self, sim: Sim, ready: Callable[[], None]) -> None:
        self.sim = sim
        self._row = row_kind("A", "B", "long-poll", "GET")
        sim.event_listeners.append(self._on_event)
        self._send()
        ready()

    def _send(self) -> None:
        sim = self.sim
        there, back = sim.delays("long-poll")
        sim.at(sim.clock.t + there, self._arrive, (sim.clock.t, back, self.after))

    def _arrive(self, req: tuple) -> None:
        page, _ = self.sim.provider.events_page(req[2], self.limit)
        if page:
            self._answer(req, page)
        else:
            self._held = req
            self.sim.at(self.sim.clock.t + self.wait_s, self._timeout, req)

    def _on_event(self) -> None:
        if self._held is not None:
            req, self._held = self._held, None
            self._answer(req, self.sim.provider.events_page(req[2], self.limit)[0])

    def _timeout(self, req: tuple) -> None:
        if self._held is req:
            self._held = None
            self._answer(req, [])

    def _answer(self, req: tuple, page: list[dict]) -> None:
        nbytes = len('{"data":[],"has_more":false}') + sum(json_size(e) + 1 for e in page)
        self.sim.at(self.sim.clock.t + req[1], self._answered, (req, page, nbytes))

    def _answered(self, args: tuple) -> None:
        (sent, _, _), page, nbytes = args
        sim, now = self.sim, self.sim.clock.t
        news = False
        for event in page:
            news = sim.shop.apply(event["data"]["object"], "long-poll", now) or news
        if page:
            self.after = page[-1]["id"]
        sim.record(sent, self._row, "/events", 200, now - sent, nbytes, news, 0)
        self._send()

    def describe(self) -> dict:
        return {"mode": self.mode, "wait_s": self.wait_s}


class ServerSentEvents(Strategy):
    """Server-Sent Events: A opens ``GET /events/stream`` once; B pushes each event over it as it
    makes it, one network hop to A. B closes a stream after ``stream_s`` (as live B does) and A
    reconnects with ``Last-Event-ID``, losing nothing. One request per connection, logged when it
    ends with every byte streamed over it."""

    mode = "sse"

    def __init__(self, stream_s: float = 600.0) -> None:
        self.stream_s = float(stream_s)
        self.after: str | None = None
        self._open: list | None = None  # [sent, bytes, news, open_until] of the connection at B

    def start(self, sim: Sim, ready: Callable[[], None]) -> None:
        self.sim = sim
        self._row = row_kind("A", "B", "sse", "GET")
        sim.event_listeners.append(self._push)
        self._connect()
        ready()

    def _connect(self) -> None:
        sim = self.sim
        there, _ = sim.delays("sse")
        sim.at(sim.clock.t + there, self._opened, sim.clock.t)

    def _opened(self, sent: float) -> None:
        self._open = [sent, 0, False, self.sim.clock.t + self.stream_s]
        self.sim.at(self._open[3], self._close, self._open)
        self._push()  # what came while A was connecting (Last-Event-ID)

    def _push(self) -> None:
        conn = self._open
        if conn is None:
            return
        sim = self.sim
        page, _ = sim.provider.events_page(self.after, 1_000_000)
        for event in page:
            self.after = event["id"]
            _, hop = sim.delays("sse")
            conn[1] += json_size(event) + len(event["id"]) + 20  # id:, event:, data: lines
            sim.at(sim.clock.t + hop, self._received, (conn, event))

    def _received(self, args: tuple) -> None:
        conn, event = args
        conn[2] = self.sim.shop.apply(event["data"]["object"], "sse", self.sim.clock.t) or conn[2]

    def _close(self, conn: list) -> None:
        if self._open is conn:
            self._open = None
            sim = self.sim
            sim.record(conn[0], self._row, "/events/stream", 200, sim.clock.t - conn[0], conn[1], conn[2], 0)
            self._connect()

    def describe(self) -> dict:
        return {"mode": self.mode, "stream_s": self.stream_s}


class Webhook(Strategy):
    """A registers a webhook endpoint with B and waits; B's core delivers every change, signed,
    and retries failed attempts on its schedule; A's core verifies and de-duplicates them.
    """

    mode = "webhook"

    def start(self, sim: Sim, ready: Callable[[], None]) -> None:
        self.sim = sim
        sim.register_webhook(then=lambda endpoint: ready())

    def setup_s(self, sim: Sim) -> float:
        return 2 * sim.network.delay.high_s  # registering is one round trip

    def horizon_s(self, sim: Sim) -> float:
        schedule = sim.provider.retry_schedule
        return sum(schedule) + (len(schedule) + 1) * 4 * sim.network.delay.high_s


class Hybrid(Webhook):
    """Webhooks for speed plus slow reconciliation polling (every ``interval_s``) for safety:
    a change whose every delivery failed is still learned within one reconciliation interval.
    """

    mode = "hybrid"

    def __init__(self, interval_s: float = 600.0) -> None:
        self.poller = Poll(interval_s)
        self.interval_s = self.poller.interval_s

    def start(self, sim: Sim, ready: Callable[[], None]) -> None:
        self.sim = sim
        self.poller.sim = sim
        sim.register_webhook(then=lambda endpoint: ready())

    def watch(self, payment_id: str) -> None:
        self.poller.watch(payment_id)

    def warmup_s(self) -> float:
        return self.poller.warmup_s()

    def horizon_s(self, sim: Sim) -> float:
        return max(super().horizon_s(sim), self.poller.horizon_s(sim))

    def describe(self) -> dict:
        return {"mode": self.mode, "interval_s": self.interval_s}


class Reconciled(Webhook):
    """Webhooks, and reconciliation as live A does it (``hooklab consumer --reconcile S``): every
    ``interval_s`` one ``GET /events?after=<cursor>`` read to the end, each event through A's
    inbox (:meth:`~hooklab.core.shop.Shop.accept`), so what a webhook brought already is not
    applied again and what B gave up on is learned within one interval of A being back.
    """

    mode = "reconciled"  # its requests: the webhooks and the feed's pages (measure.summary.MODE_KINDS)

    def __init__(self, interval_s: float) -> None:
        self.feed = Feed(interval_s, via_inbox=True)
        self.interval_s = self.feed.interval_s

    def start(self, sim: Sim, ready: Callable[[], None]) -> None:
        self.sim = sim
        sim.register_webhook(then=lambda endpoint: self.feed.start(sim, ready))

    def horizon_s(self, sim: Sim) -> float:
        return max(super().horizon_s(sim), self.feed.horizon_s(sim))

    def describe(self) -> dict:
        return {"mode": self.mode, "reconcile_s": self.interval_s}


class Feed(Strategy):
    """A reads B's changes feed: every ``interval_s`` seconds ONE request for all records,
    ``GET /events?after=<id>`` (the last event A has seen; plain ``/events`` before the first),
    which B answers from ``PaymentProvider.list_events``: up to ``limit`` events in the order B
    made them. A applies each event's payment snapshot with ``Shop.apply(..., via="feed")``. A
    full page means more may be waiting, so A asks for the next page at once (one more request).

    Cost: ``duration / interval_s`` requests plus one per full page, whatever the number of
    records; a change waits T/2 on average (as with per-record polling at the same T); a request
    finds nothing new with probability exp(-N·λ·T). Ticks are on a fixed grid from the start; a
    tick that finds the last tick's pages still in flight is skipped (counted in ``skipped``):
    those pages read on to the end of the feed anyway. With ``until_final`` (finite workloads) A
    stops reading once every payment it knows is final, and starts again when it creates one.

    Built from the engine's public API only (``sim.at``, ``sim.request``) and the two cores.
    """

    mode = "feed"

    def __init__(
        self, interval_s: float, *, limit: int = 100, until_final: bool = False, via_inbox: bool = False
    ) -> None:
        self.via_inbox = via_inbox
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        if not limit >= 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.interval_s = float(interval_s)
        self.limit = int(limit)
        self.until_final = until_final
        self.after: str | None = None  # the last event id A has seen
        self.skipped = 0
        self._busy = False  # a request of the feed is in flight
        self._t0 = 0.0
        self._tick_no = -1  # the grid index of the next tick; -1 while stopped
        self._sizes: dict[str, int] = {}  # bytes of each event's JSON, worked out once

    def start(self, sim: Sim, ready: Callable[[], None]) -> None:
        self.sim = sim
        self._t0 = sim.clock.t
        self._schedule(0)
        ready()

    def watch(self, payment_id: str) -> None:
        if self._tick_no < 0:  # stopped (until_final): back on the grid at the next tick
            k = math.ceil((self.sim.clock.t - self._t0) / self.interval_s)
            self._schedule(k)

    def _schedule(self, k: int) -> None:
        self._tick_no = k
        self.sim.at(self._t0 + k * self.interval_s, self._tick, k)  # k * T: no drift from adding up

    def _tick(self, k: int) -> None:
        if self.until_final and self.sim.shop.payments and not self.sim.shop.pending_ids():
            self._tick_no = -1  # nothing can change any more (see watch)
            return
        if self._busy or (self.sim.outages and self.sim.down_until(self.sim.clock.t) is not None):
            self.skipped += 1  # still reading, or A is down
        else:
            self._fetch()
        self._schedule(k + 1)

    def _fetch(self) -> None:
        self._busy = True
        after = self.after
        path = "/events" if after is None else f"/events?after={after}"
        self.sim.request("feed", "GET", path, self._serve, after, self._answered)

    def _serve(self, after: str | None) -> tuple[int, list[dict], int]:
        """B answers ``GET /events?after=...`` from its core: ``{"data": [event, ...]}``."""
        page = self.sim.provider.list_events(after, self.limit)
        sizes = self._sizes
        nbytes = len('{"data":[]}') + max(0, len(page) - 1)  # the envelope and the commas
        for event in page:
            size = sizes.get(event["id"])
            if size is None:
                size = sizes[event["id"]] = json_size(event)
            nbytes += size
        return 200, page, nbytes

    def _answered(self, status: int, page: list[dict], ctx: object) -> bool:
        shop, now = self.sim.shop, self.sim.clock.t
        news = False
        for event in page:
            if self.via_inbox:  # reconciliation: the inbox drops what a webhook brought already
                news = shop.accept(event, "reconcile", now) or news
            else:
                news = shop.apply(event["data"]["object"], "feed", now) or news
        if page:
            self.after = page[-1]["id"]
        if len(page) == self.limit:
            self._fetch()  # a full page: ask for the next one now
        else:
            self._busy = False
        return news

    def warmup_s(self) -> float:
        return self.interval_s

    def horizon_s(self, sim: Sim) -> float:
        # a change waits at most one interval, or two if that tick was skipped, plus its pages
        return 2 * self.interval_s + 4 * sim.network.delay.high_s

    def describe(self) -> dict:
        return {"mode": self.mode, "interval_s": self.interval_s, "limit": self.limit}
