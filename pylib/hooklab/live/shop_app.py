"""System A over HTTP: the shop's webhook endpoint, its own small API, and its parts.

Routes: ``POST /webhooks/payments`` (B pushes events here), ``POST /orders`` (a customer checks
out: A asks B for a payment), ``GET /payments`` and ``GET /payments/{id}`` (what A knows),
``GET /fulfilments`` (the orders A shipped: one per succeeded payment), ``GET /health``.

:class:`ShopService` puts together the parts that share one :class:`~hooklab.live.shop_context.ShopContext`,
each in a thread of its own and only when asked for: the poller (:mod:`hooklab.live.shop_poller`,
every mode but ``webhook``), the inbox worker (:mod:`hooklab.live.shop_worker`, ``ack="inbox"``),
the reconciler (:mod:`hooklab.live.shop_reconciler`, ``reconcile_s``), and A's endpoint at B
(:mod:`hooklab.live.shop_registration`).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from pathlib import Path

import anyio
import anyio.to_thread
import httpx
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hooklab.core.contract import (
    FULFILMENTS_PATH,
    HEALTH_PATH,
    ORDERS_PATH,
    PAYMENT_PATH,
    PAYMENTS_PATH,
    WEBHOOK_PATH,
)
from hooklab.core.errors import ApiError
from hooklab.core.modes import SHOP_MODES
from hooklab.core.schemes import scheme as scheme_named
from hooklab.core.shop import PollSchedule, Shop, WebhookReply
from hooklab.live.client import LoggingTransport, ThreadedTransport, logging_client
from hooklab.live.clocks import WaitableClock, WallClock
from hooklab.live.models import FulfilmentList, Health, Payment, PaymentList, PaymentRequest, WebhookAnswer
from hooklab.live.server import documented, make_app, mark
from hooklab.live.shop_commits import GroupCommitter
from hooklab.live.shop_context import ShopContext
from hooklab.live.shop_poller import Poller
from hooklab.live.shop_reconciler import Reconciler
from hooklab.live.shop_registration import Registration
from hooklab.live.shop_worker import InboxWorker
from hooklab.live.store import open_store
from hooklab.measure.requestlog import RequestLog

#: What A's webhook endpoint accepts (read as raw bytes, verified, then parsed: no model here).
EVENT_SHAPE = (
    'A signed event: {"id": "evt_...", "type": "payment.succeeded", "created": <unix>, '
    '"data": {"object": {"id": "pay_...", "status": ..., "version": <int>, ...}}} (or, in the stripe '
    "scheme, a Stripe payment_intent.* event), signed in this A's scheme"
)
MODES = SHOP_MODES
#: ``ack``: answer after applying the event (``inline``) or after writing it to the inbox (``inbox``).
ACKS = ("inline", "inbox")
#: ``on_event``: apply the event's own snapshot, or treat it as a hint and fetch the payment from B.
ON_EVENT = ("apply", "refetch")
#: With ``max_backlog``: what A's 503 asks a sender to wait (seconds), and how often A counts its inbox.
BACKLOG_RETRY_AFTER_S, BACKLOG_READ_S = 1, 0.05


#: What ``/docs`` says of this system.
TITLE = "System A: the shop"
DESCRIPTION = (
    "A mock shop. It receives System B's webhooks (signed, de-duplicated) or "
    "polls B, and shows what it knows about each payment."
)


class ShopService:
    """System A, live. ``mode`` is ``"poll"`` (ask B every ``interval_s``), ``"webhook"``, or one of
    the smarter pulls of :mod:`hooklab.live.pullers` (``conditional``, ``feed``, ``long-poll``,
    ``sse``, ``adaptive``; ``interval_s`` is then the poll interval, or the feed's shortest pause).

    Serve ``service.app``; serving starts the poller (poll mode) and stops it on shutdown. With
    ``db_path`` A keeps what it knows in SQLite, or in PostgreSQL for a ``postgresql://`` URL
    (:mod:`hooklab.live.store`), so a new ``ShopService``
    on the same file after a crash knows every payment, every processed event and its secret. In
    webhook mode call :meth:`register_webhook` with the URL A is served at (or pass
    ``public_url``, and the app registers itself when it starts).

    ``scheme``: the senders' convention A verifies and reads (``hooklab``, ``stripe``, ``github``,
    ``standard``: :mod:`hooklab.core.schemes`). ``secret``: a signing secret the sender issued (a
    Stripe-like provider's dashboard, GitHub's webhook settings): A trusts it and registers nowhere.

    ``client`` replaces A's HTTP client to B (say, one on an ``httpx.ASGITransport`` to call B
    in-process, in tests); A then leaves closing it to the caller.
    """

    def __init__(
        self,
        provider_url: str,
        *,
        mode: str = "poll",
        interval_s: float = 1.0,
        public_url: str | None = None,
        clock: WaitableClock | None = None,
        name: str = "A",
        timeout_s: float = 5.0,
        db_path: str | Path | None = None,
        client: httpx.Client | None = None,
        ack: str = "inline",
        on_event: str = "apply",
        reconcile_s: float | None = None,
        work_s: float = 0.0,
        retention_s: float | None = None,
        api_key: str | None = None,
        owns_url: bool = False,
        max_backlog: int | None = None,
        sqlite_sync: str = "full",
        handlers: int | None = None,
        workers: int = 1,
        scheme: str = "hooklab",
        secret: str | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if clock is not None and not callable(getattr(clock, "wait", None)):
            raise ValueError("A's clock must be one its threads can wait on (hooklab.live.clocks: WallClock, "
                             f"ShiftableClock, SteppedClock), got {type(clock).__name__}")  # fmt: skip
        if ack not in ACKS:
            raise ValueError(f"ack must be one of {ACKS}, got {ack!r}")
        if on_event not in ON_EVENT:
            raise ValueError(f"on_event must be one of {ON_EVENT}, got {on_event!r}")
        if reconcile_s is not None and not reconcile_s > 0:
            raise ValueError(f"reconcile_s must be > 0 seconds or None, got {reconcile_s}")
        if max_backlog is not None and not max_backlog > 0:
            raise ValueError(f"max_backlog must be > 0 events or None, got {max_backlog}")
        if handlers is not None and not handlers >= 1:
            raise ValueError(f"handlers must be >= 1 or None, got {handlers}")
        self.max_backlog = max_backlog
        self.handlers = handlers
        if workers not in (0, 1):
            raise ValueError(f"workers must be 0 (the endpoint only) or 1, got {workers}")
        self.workers = workers
        if secret is not None:  # a secret the sender issued: nothing to register, so no URL to give B
            scheme_named(scheme).check_secret(secret)  # refused here, before anything is opened
            public_url = None
        self._limiter: anyio.CapacityLimiter | None = None  # made on the event loop, at first use
        self.ack, self.reconcile_s = ack, reconcile_s
        self.provider_url = provider_url.rstrip("/")
        self.mode = mode
        self.public_url = public_url
        clock = clock or WallClock()
        # with a db_path A remembers payments, processed events and secrets across restarts: an
        # SQLite file, or a postgresql:// URL (a database several A processes share)
        store = open_store(db_path, synchronous=sqlite_sync) if db_path is not None else None
        extra = {} if retention_s is None else {"retention_s": retention_s}
        core = Shop(store=store, defer=ack == "inbox", scheme_name=scheme, **extra)
        if secret is not None:
            core.add_webhook_secret(secret)
        schedule = PollSchedule(interval_s)
        for payment_id in core.pending_ids():  # a restarted poller carries on where it stopped
            schedule.add(payment_id, clock.now())
        self._own_client = client is None
        # B tells clients apart by API key (else by address, which every program on 127.0.0.1 shares)
        auth_headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        log = RequestLog(name)
        if client is None:
            client = httpx.Client(base_url=self.provider_url, timeout=timeout_s, headers=auth_headers,
                                  transport=LoggingTransport(httpx.HTTPTransport(), log, clock, "B"))  # fmt: skip
        else:  # a client made elsewhere (a test's TestClient): its requests are logged all the same,
            # and the pull loops send through it too, so every mode runs in-process
            client = logging_client(client, log, clock, "B")
        self.ctx = ShopContext(
            name=name, mode=mode, provider_url=self.provider_url, core=core, store=store, clock=clock,
            log=log, client=client, schedule=schedule, auth_headers=auth_headers,
            on_event=on_event, work_s=work_s, pull_transport=None if self._own_client else ThreadedTransport(client._transport),
        )  # fmt: skip
        self.poller = Poller(self.ctx)
        self.worker = InboxWorker(self.ctx)
        # owns_url: A is the only receiver at its URL (a process, `hooklab consumer`)
        self.registration = Registration(self.ctx, public_url, owns_url=owns_url)
        self.reconciler = Reconciler(self.ctx, self.registration, reconcile_s)
        self.committer = GroupCommitter(self.ctx)  # stores verified events, many per commit
        self._inbox_counted = (-math.inf, 0, 0)  # (when, inbox size, writer's deferred count then)
        self._threads: list[threading.Thread] = []  # the worker and the reconciler, while serving
        # the webhook, the route that must keep up with a sender's bursts, is served straight
        self._fast_routes = {("POST", WEBHOOK_PATH): self.webhook}
        self.app = make_app(
            self,
            TITLE,
            DESCRIPTION,
            body_models=(PaymentRequest,),
            kinds={WEBHOOK_PATH: "webhook", ORDERS_PATH: "create"},
            fast_routes=self._fast_routes,
        )
        self._add_routes()

    def _add_routes(self) -> None:
        # (path, handler, method, success status, success body, its own error statuses): one line per route
        routes = [
            (WEBHOOK_PATH, self.webhook, "POST", 200, WebhookAnswer, (503,)),
            (ORDERS_PATH, self.order, "POST", 201, Payment, (429, 502, 503)),
            (PAYMENTS_PATH, self.list_payments, "GET", 200, PaymentList, ()),
            (PAYMENT_PATH, self.get_payment, "GET", 200, Payment, ()),
            (FULFILMENTS_PATH, self.list_fulfilments, "GET", 200, FulfilmentList, ()),
            (HEALTH_PATH, self.health, "GET", 200, Health, ()),
        ]
        # the webhook body is read raw and verified before parsing, so no model: describe it instead
        scheme = self.core.scheme
        event_body = {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": f"{EVENT_SHAPE}: {scheme.name}, header {scheme.header}",
                }
            }
        }
        for path, handler, method, status, model, errors in routes:
            extra = (
                {"requestBody": {"required": True, "content": event_body}} if path == WEBHOOK_PATH else None
            )
            self.app.router.add_api_route(
                path, handler, methods=[method], status_code=status,
                responses=documented(status, model, *errors), openapi_extra=extra,
            )  # fmt: skip

    # --- what the parts share, read from outside ---------------------------------------------
    core = property(lambda self: self.ctx.core, doc="A's core (:class:`~hooklab.core.shop.Shop`)")
    store = property(lambda self: self.ctx.store)
    lock = property(lambda self: self.ctx.lock, doc="held for every access to the core")
    clock = property(lambda self: self.ctx.clock)
    log = property(lambda self: self.ctx.log, doc="A's request log")
    name = property(lambda self: self.ctx.name)
    client = property(lambda self: self.ctx.client, doc="A's HTTP client to B")
    schedule = property(lambda self: self.ctx.schedule)
    on_event = property(lambda self: self.ctx.on_event)
    work_s = property(lambda self: self.ctx.work_s)
    registrations = property(
        lambda self: self.registration.registrations,
        doc="how many times A registered its endpoint (a restarted B: once more)",
    )
    unknown_at_b = property(lambda self: self.poller.unknown_at_b, doc="payments B answered 404 for")
    working = property(lambda self: self.worker.working, doc="events in their work_s of work now")

    # --- what A does ----------------------------------------------------------------------
    def create_payment(self, amount: int = 1999, currency: str = "eur") -> dict:
        """Ask B for a payment (a customer checks out) and start waiting for it to settle."""
        ctx = self.ctx
        response = ctx.send(
            "create", "POST", PAYMENTS_PATH, json_body={"amount": amount, "currency": currency}
        )
        if response is None:
            raise ConnectionError(f"System B at {self.provider_url} is not answering; is it running?")
        if response.status_code != 201:
            # B asked for a pause (429 / 503): the customer's client gets the same Retry-After
            wait = response.headers.get("retry-after") if response.status_code in (429, 503) else None
            extra = {"retry_after": wait} if wait else {}
            raise ApiError(response.status_code, "provider_error",
                           f"System B refused the payment: {response.text}", **extra)  # fmt: skip
        payment = response.json()
        with ctx.lock:
            ctx.core.apply(payment, "create", ctx.clock.now())
            ctx.schedule.add(payment["id"], ctx.clock.now())
        ctx.poll_wake.set()
        return payment

    def register_webhook(self, public_url: str | None = None) -> dict:
        """Register A's webhook URL with B (:meth:`Registration.register <hooklab.live.shop_registration.Registration.register>`)."""
        return self.registration.register(public_url)

    def ensure_registered(self) -> str:
        """Check that B still knows A's endpoint (:meth:`~hooklab.live.shop_registration.Registration.ensure`)."""
        return self.registration.ensure()

    def reconcile_once(self) -> int | None:
        """One reconciliation round (:meth:`~hooklab.live.shop_reconciler.Reconciler.reconcile_once`)."""
        return self.reconciler.reconcile_once()

    def work_once(self) -> int:
        """Apply every event waiting in the inbox (:meth:`~hooklab.live.shop_worker.InboxWorker.work_once`)."""
        return self.worker.work_once()

    def poll_once(self, payment_id: str) -> bool | None:
        """Poll one payment (:meth:`~hooklab.live.shop_poller.Poller.poll_once`)."""
        return self.poller.poll_once(payment_id)

    def is_done(self) -> bool:
        """True when A believes every payment it created has settled (or B no longer knows it)."""
        return self.poller.is_done()

    def snapshot(self) -> dict[str, dict]:
        """Every payment as A knows it: ``{id: payment}``."""
        with self.ctx.lock:
            return self.ctx.core.snapshot()

    def observations(self) -> list:
        """Every time A learned a payment's version (when, and how: poll, webhook, ...)."""
        with self.ctx.lock:
            return list(self.ctx.core.observations)

    def pending_count(self) -> int:
        """Payments A still believes pending."""
        with self.ctx.lock:
            return len(self.ctx.core.pending_ids())

    def fulfilment_rows(self) -> list[tuple[str, float]]:
        """Every fulfilment A made, as ``(payment_id, fulfilled_at)``; a payment twice would be a bug."""
        with self.ctx.lock:
            fulfilments = self.ctx.core.fulfilments
            if hasattr(fulfilments, "rows"):
                return fulfilments.rows()
            return list(fulfilments.items())

    # --- threads ---------------------------------------------------------------------------
    def start_poller(self) -> None:
        self.poller.start()

    def stop_poller(self) -> None:
        self.poller.stop()

    def _start_threads(self) -> None:
        self.ctx.stop.clear()
        self.committer.start()
        loops = [(self.worker.run, "hooklab-worker")] if self.ack == "inbox" and self.workers else []
        if self.reconcile_s is not None:
            loops.append((self.reconciler.run, "hooklab-reconciler"))
        for target, name in loops:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _stop_threads(self) -> None:
        self.committer.stop()  # what was handed over is committed (and answered) first
        self.ctx.stop.set()
        self.ctx.inbox_wake.set()
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def close(self) -> None:
        self.stop_poller()
        self._stop_threads()
        self.registration.leave()
        if self._own_client:
            self.ctx.client.close()
        if self.ctx.store is not None:
            with self.ctx.lock:
                self.ctx.core.detach_store()  # what A knew stays readable after close
            self.ctx.store.close()

    @contextlib.asynccontextmanager
    async def _lifespan(self, app):
        # a restarted A with its SQLite file is still registered: registering again would make
        # B deliver every event twice
        if self.mode == "webhook" and self.public_url:
            if not self.core.webhook_secrets:
                await run_in_threadpool(self.register_webhook)
            elif self.reconcile_s is None:  # the reconciler checks at once anyway
                await run_in_threadpool(self.ensure_registered)
        if self.mode != "webhook":
            self.start_poller()
        self._start_threads()
        try:
            yield
        finally:
            await run_in_threadpool(self.stop_poller)
            await run_in_threadpool(self._stop_threads)
            # here, not only in close(): uvicorn ends the process on SIGTERM right after this
            await run_in_threadpool(self.registration.leave)

    # --- routes ---------------------------------------------------------------------------
    async def webhook(self, request: Request) -> JSONResponse:
        """Where B delivers events. The raw body is verified before anything parses it."""
        mark(request, "webhook")
        body = await request.body()  # bounded by the body-limit middleware
        if self.ack == "inline" and (self.work_s or self.on_event == "refetch"):
            return await self._webhook_inline(request, body)
        now = self.clock.now()
        checked = self.core.verified_webhook(body, request.headers, now)  # no I/O: on the event loop
        if isinstance(checked, WebhookReply):
            reply = checked
        elif self.max_backlog is not None and (behind := self.backlog()) >= self.max_backlog:
            mark(request, "webhook", None)
            err = ApiError(503, "backlog_full", f"A has {behind} events received and not yet applied (at most "
                           f"{self.max_backlog}); nothing was stored: send it again after Retry-After")  # fmt: skip
            return JSONResponse(
                err.to_dict(), status_code=503, headers={"Retry-After": str(BACKLOG_RETRY_AFTER_S)}
            )
        else:
            reply = await self.committer.submit(checked, now)  # answered once it is committed
        mark(request, "webhook", reply.news)
        return JSONResponse(reply.body, status_code=reply.status)

    def backlog(self) -> int:
        """Events received and not yet applied: handed to the writer, or waiting in the inbox. The
        inbox is counted at most every :data:`BACKLOG_READ_S` (a count per request would slow A),
        plus what the writer put in it since (so the figure errs high, never low)."""
        now = time.monotonic()
        if now - self._inbox_counted[0] > BACKLOG_READ_S:
            with self.lock:
                self._inbox_counted = (now, len(self.core.inbox), self.committer.deferred)
        _, counted, deferred_then = self._inbox_counted
        return self.committer.waiting + counted + self.committer.deferred - deferred_then

    async def _webhook_inline(self, request: Request, body: bytes) -> JSONResponse:
        """Do the work before answering (what notebook 05 measures against the inbox): the event is
        verified and kept, then fetched or worked on, then applied, and only then answered."""
        with self.lock:  # kept in the inbox while the work runs, so a crash in it loses nothing
            reply = self.core.receive_webhook(body, request.headers, self.clock.now(), defer=True)
        if reply.status == 200 and not reply.body["duplicate"]:
            # this delivery's own event only (as verified and kept), so concurrent deliveries work
            # side by side instead of each working through the whole inbox in turn
            event_id = reply.body["event"]
            with self.lock:
                kept = self.core.inbox.get(event_id)
            if kept is not None:
                if self._limiter is None:  # at most `handlers` events worked on at once (else the pool's 40)
                    self._limiter = anyio.CapacityLimiter(self.handlers or 40)
                await anyio.to_thread.run_sync(self.worker.work_on, event_id, kept[0], limiter=self._limiter)
        mark(request, "webhook", None if reply.status != 200 else not reply.body["duplicate"])
        return JSONResponse(reply.body, status_code=reply.status)

    async def order(self, request: Request, body: PaymentRequest) -> dict:
        """A customer checks out: A asks B for a payment and waits to learn how it settles."""
        mark(request, "create")
        # create_payment blocks on B; a worker thread keeps A's event loop free meanwhile
        try:
            return await run_in_threadpool(self.create_payment, body.amount, body.currency)
        except ConnectionError as err:
            # B being down is not a bug of A's: say so (502) and what to do, instead of a 500 and a traceback
            raise ApiError(
                502, "provider_unavailable",
                f"{err} Start System B first (hooklab provider) or check A's --provider URL, "
                "then retry the order",
            ) from None  # fmt: skip

    async def list_payments(self, request: Request) -> dict:
        """Every payment A knows, by id."""
        mark(request, "view")
        return {"data": sorted(self.snapshot().values(), key=lambda p: p["id"])}

    async def get_payment(self, request: Request, payment_id: str) -> dict:
        """One payment as A knows it."""
        mark(request, "view")
        payment = self.snapshot().get(payment_id)
        if payment is None:
            raise ApiError(
                404, "not_found", f"A knows no payment {payment_id!r}; create one with POST /orders"
            )
        return payment

    async def list_fulfilments(self, request: Request) -> dict:
        """The orders A fulfilled (shipped): exactly one per succeeded payment, oldest first."""
        mark(request, "view")
        rows = self.fulfilment_rows()
        return {"data": [{"payment_id": pid, "fulfilled_at": at} for pid, at in rows]}

    async def health(self, request: Request) -> dict:
        """Whether A is up, and how it learns (poll or webhook)."""
        mark(request, "view")
        return {"ok": True, "system": self.name, "mode": self.mode}
