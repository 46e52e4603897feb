"""System A over HTTP: the shop's webhook endpoint, its own small API, and its poller.

Routes: ``POST /webhooks/payments`` (B pushes events here), ``POST /orders`` (a customer checks
out: A asks B for a payment), ``GET /payments`` and ``GET /payments/{id}`` (what A knows),
``GET /fulfilments`` (the orders A shipped: one per succeeded payment), ``GET /health``.

Background threads, each only when asked for:

- the *poller* (``poll`` mode): polls B for every pending payment, resuming them after a restart;
- the *worker* (``ack="inbox"``): the webhook handler only verifies, writes the event to the
  inbox and answers; the worker applies inbox events, each in its own transaction, optionally
  re-fetching the payment from B first (``on_event="refetch"``);
- the *reconciler* (``reconcile_s``): at start-up and every ``reconcile_s`` seconds it reads
  ``GET /events?after=<cursor>`` to the end (the cursor kept durably with ``db_path``) into the
  inbox, so what B never delivered is learned anyway, and checks that B still knows A's endpoint
  (registering again, once, if B forgot it, or recovering it if B disabled it).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from pathlib import Path

import httpx
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hooklab.core.clock import Clock
from hooklab.core.contract import (
    EVENTS_PATH,
    FINAL_STATUSES,
    FULFILMENTS_PATH,
    HEALTH_PATH,
    ORDERS_PATH,
    PAYMENT_PATH,
    PAYMENTS_PATH,
    WEBHOOK_ENDPOINTS_PATH,
    WEBHOOK_PATH,
    redact_url,
    webhook_url,
)
from hooklab.core.errors import ApiError
from hooklab.core.modes import PULL_LOOP_MODES, SHOP_MODES
from hooklab.core.shop import PollSchedule, Shop
from hooklab.live import pullers
from hooklab.live.client import logged_send
from hooklab.live.clocks import WallClock
from hooklab.live.models import FulfilmentList, Health, Payment, PaymentList, PaymentRequest, WebhookAnswer
from hooklab.live.server import documented, make_app, mark
from hooklab.live.store import SqliteStore
from hooklab.measure.requestlog import RequestLog

#: What A's webhook endpoint accepts (read as raw bytes, verified, then parsed: no model here).
EVENT_SHAPE = (
    'A signed event: {"id": "evt_...", "type": "payment.succeeded", "created": <unix>, '
    '"data": {"object": {"id": "pay_...", "status": ..., "version": <int>, ...}}}, '
    "with a Hooklab-Signature header t=<unix>,v1=<hex>"
)
MODES = SHOP_MODES
#: ``ack``: answer after applying the event (``inline``) or after writing it to the inbox (``inbox``).
ACKS = ("inline", "inbox")
#: ``on_event``: apply the event's own snapshot, or treat it as a hint and fetch the payment from B.
ON_EVENT = ("apply", "refetch")
#: Events per reconciliation page.
RECONCILE_PAGE = 100


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
    ``db_path`` A keeps what it knows in SQLite (:mod:`hooklab.live.store`), so a new ``ShopService``
    on the same file after a crash knows every payment, every processed event and its secret. In
    webhook mode call :meth:`register_webhook` with the URL A is served at (or pass
    ``public_url``, and the app registers itself when it starts).

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
        clock: Clock | None = None,
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
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if ack not in ACKS:
            raise ValueError(f"ack must be one of {ACKS}, got {ack!r}")
        if on_event not in ON_EVENT:
            raise ValueError(f"on_event must be one of {ON_EVENT}, got {on_event!r}")
        if reconcile_s is not None and not reconcile_s > 0:
            raise ValueError(f"reconcile_s must be > 0 seconds or None, got {reconcile_s}")
        self.ack, self.on_event, self.reconcile_s, self.work_s = ack, on_event, reconcile_s, work_s
        self.provider_url = provider_url.rstrip("/")
        self.mode = mode
        self.public_url = public_url
        self.clock = clock or WallClock()
        self.name = name
        # with a db_path A remembers payments, processed events and secrets across restarts
        self.store = SqliteStore(db_path) if db_path is not None else None
        extra = {} if retention_s is None else {"retention_s": retention_s}
        self.core = Shop(store=self.store, defer=ack == "inbox", **extra)
        self.schedule = PollSchedule(interval_s)
        for payment_id in self.core.pending_ids():  # a restarted poller carries on where it stopped
            self.schedule.add(payment_id, self.clock.now())
        self.log = RequestLog(name)
        self.lock = threading.RLock()
        self._own_client = client is None
        # B tells clients apart by API key (else by address, which every program on 127.0.0.1 shares)
        self.auth_headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = client or httpx.Client(base_url=self.provider_url, timeout=timeout_s,
                                             headers=self.auth_headers)  # fmt: skip
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._poller: threading.Thread | None = None
        self._threads: list[threading.Thread] = []  # the worker and the reconciler, while serving
        self._inbox_wake = threading.Event()
        self._etags: dict[str, str | None] = {}  # conditional polling: each payment's last ETag
        self._paused_until = 0.0  # a 429 / 503 from B: no polls before this (time.monotonic)
        self._adaptive = pullers.AdaptiveIntervals(self) if mode == "adaptive" else None
        self._pull_loop = self._pull_task = None  # the feed's, long poll's or stream's own event loop
        self.registrations = 0  # how many times A registered its endpoint (a restarted B: once more)
        self.unknown_at_b: set[str] = set()  # payments B answered 404 for: no longer polled
        self.working = 0  # events in their work_s of work right now
        # A is the only receiver at its URL (a process, `hooklab consumer`): registering replaces any
        # endpoint an earlier A left there, and an A without a database deletes its own on close
        self.owns_url = owns_url
        self.app = make_app(
            self,
            TITLE,
            DESCRIPTION,
            body_models=(PaymentRequest,),
            kinds={WEBHOOK_PATH: "webhook", ORDERS_PATH: "create"},
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
        event_body = {"application/json": {"schema": {"type": "object", "description": EVENT_SHAPE}}}
        for path, handler, method, status, model, errors in routes:
            extra = (
                {"requestBody": {"required": True, "content": event_body}} if path == WEBHOOK_PATH else None
            )
            self.app.add_api_route(
                path, handler, methods=[method], status_code=status,
                responses=documented(status, model, *errors), openapi_extra=extra,
            )  # fmt: skip

    # --- what A does ----------------------------------------------------------------------
    def create_payment(self, amount: int = 1999, currency: str = "eur") -> dict:
        """Ask B for a payment (a customer checks out) and start waiting for it to settle."""
        response = logged_send(
            self.client, self.log, receiver="B", kind="create", method="POST", url=PAYMENTS_PATH,
            clock=self.clock, json_body={"amount": amount, "currency": currency},
        )  # fmt: skip
        if response is None:
            raise ConnectionError(f"System B at {self.provider_url} is not answering; is it running?")
        if response.status_code != 201:
            # B asked for a pause (429 / 503): the customer's client gets the same Retry-After
            wait = response.headers.get("retry-after") if response.status_code in (429, 503) else None
            extra = {"retry_after": wait} if wait else {}
            raise ApiError(response.status_code, "provider_error",
                           f"System B refused the payment: {response.text}", **extra)  # fmt: skip
        payment = response.json()
        with self.lock:
            self.core.apply(payment, "create", self.clock.now())
            self.schedule.add(payment["id"], self.clock.now())
        self._wake.set()
        return payment

    def register_webhook(self, public_url: str | None = None) -> dict:
        """Register A's webhook URL with B and trust the secret B returns. ``public_url``: the URL A
        is served at (A's webhook path is added), or a full webhook URL with a path of its own (a
        proxy's, kept as given). B refusing the URL raises :class:`ApiError` with B's reason."""
        given = public_url or self.public_url
        if not given:
            raise ValueError("register_webhook needs the URL A is served at, e.g. 'http://127.0.0.1:8001'")
        url = webhook_url(given)
        if self.owns_url:
            self._drop_earlier_endpoints(url)
        response = logged_send(
            self.client, self.log, receiver="B", kind="register", method="POST", url=WEBHOOK_ENDPOINTS_PATH,
            clock=self.clock, json_body={"url": url},
        )  # fmt: skip
        if response is not None and response.status_code == 422:
            reason = response.json().get("error", {}).get("message", response.text)
            raise ApiError(422, "webhook_url_refused", f"System B refused the webhook URL {url!r}: {reason}")
        if response is None or response.status_code != 201:
            detail = "no answer" if response is None else response.text
            raise ConnectionError(f"could not register the webhook endpoint with System B: {detail}")
        endpoint = response.json()
        with self.lock:
            self.core.add_webhook_secret(endpoint["secret"])
            self.core.meta["endpoint_url"] = url
            self.core.meta["endpoint_id"] = endpoint["id"]
            self.registrations += 1
        return endpoint

    def _drop_earlier_endpoints(self, url: str) -> None:
        """Delete B's endpoints at this URL: only an earlier A can have registered them (one process
        listens on a URL), and a new registration means that A's secret is gone, so every delivery
        to them would fail signature checks for as long as B kept trying."""
        response = logged_send(self.client, self.log, receiver="B", kind="view", method="GET",
                               url=WEBHOOK_ENDPOINTS_PATH, clock=self.clock)  # fmt: skip
        if response is None or response.status_code != 200:
            return
        for endpoint in response.json().get("data", []):
            if endpoint.get("url") == redact_url(url):
                self.forget_endpoint(endpoint["id"])

    def forget_endpoint(self, endpoint_id: str) -> None:
        """Ask B to delete one of A's endpoints (``DELETE /webhook-endpoints/{id}``)."""
        logged_send(self.client, self.log, receiver="B", kind="register", method="DELETE",
                    url=f"{WEBHOOK_ENDPOINTS_PATH}/{endpoint_id}", clock=self.clock)  # fmt: skip

    def _leave(self) -> None:
        """An A without a database takes its secret with it: if it owns its URL, it asks B to delete
        its endpoint (once), so B does not keep sending what nobody can verify."""
        endpoint_id = self.core.meta.get("endpoint_id")
        if self.owns_url and self.store is None and endpoint_id is not None:
            with contextlib.suppress(httpx.HTTPError):
                self.forget_endpoint(endpoint_id)
            self.core.meta.pop("endpoint_id", None)

    def ensure_registered(self) -> str:
        """Check that B knows A's endpoint: ``"ok"``; ``"registered"`` if B had forgotten it (a
        restarted B without ``--db``) and A registered again; ``"recovered"`` if B had disabled it
        and A asked B to re-send what failed since the last reconciliation; ``"unknown"`` if B did not
        answer."""
        url = self.core.meta.get("endpoint_url") or (
            webhook_url(self.public_url) if self.public_url else None
        )
        if url is None:
            return "unknown"
        response = logged_send(self.client, self.log, receiver="B", kind="view", method="GET",
                               url=WEBHOOK_ENDPOINTS_PATH, clock=self.clock)  # fmt: skip
        if response is None or response.status_code != 200:
            return "unknown"
        # by the id B gave A (B's listing hides credentials in a URL, so the URL may not match)
        known_id = self.core.meta.get("endpoint_id")
        mine = [e for e in response.json()["data"]
                if e["id"] == known_id or (known_id is None and e["url"] == redact_url(url))]  # fmt: skip
        if not mine:
            self.register_webhook(url)
            return "registered"
        if not any(e.get("enabled", True) for e in mine):
            since = float(self.core.meta.get("reconciled_at", "0"))
            logged_send(self.client, self.log, receiver="B", kind="recover", method="POST",
                        url=f"{WEBHOOK_ENDPOINTS_PATH}/{mine[-1]['id']}/recover", clock=self.clock,
                        json_body={"since": since})  # fmt: skip
            return "recovered"
        return "ok"

    def reconcile_once(self) -> int | None:
        """Read B's events after A's cursor to the end into the inbox; how many were new to A
        (``None``: B did not answer). A cursor B does not know (a restarted in-memory B) starts
        over from B's first event: the inbox drops what A has already."""
        if self.mode == "webhook":
            self.ensure_registered()
        started = self.clock.now()
        new = 0
        while True:
            cursor = self.core.meta.get("cursor")
            url = f"{EVENTS_PATH}?limit={RECONCILE_PAGE}" + (f"&after={cursor}" if cursor else "")
            response = logged_send(self.client, self.log, receiver="B", kind="reconcile", method="GET",
                                   url=url, clock=self.clock)  # fmt: skip
            if response is None:
                return None
            if response.status_code == 404 and cursor:
                with self.lock:
                    del self.core.meta["cursor"]
                continue
            if response.status_code != 200:
                return None
            page = response.json()
            with self.lock:
                new += self.core.accept_page(page["data"], "reconcile", self.clock.now())
            self._inbox_wake.set()
            if not page["has_more"]:
                break
        with self.lock:
            self.core.meta["reconciled_at"] = repr(started)
        return new

    def fetch_payment(self, payment_id: str) -> dict | None:
        """B's current state of one payment (``--on-event refetch``), or ``None`` if B did not answer."""
        response = logged_send(self.client, self.log, receiver="B", kind="refetch", method="GET",
                               url=f"/payments/{payment_id}", clock=self.clock)  # fmt: skip
        return response.json() if response is not None and response.status_code == 200 else None

    def work_once(self) -> int:
        """Apply every event waiting in the inbox (the worker's step); how many were applied."""
        with self.lock:
            pending = self.core.pending_events()
        done = 0
        for event_id, event, _via in pending:
            applied = self.work_on(event_id, event)
            if applied is None:
                break  # B is down: the event stays in the inbox for the next round
            done += applied
        return done

    def work_on(self, event_id: str, event: dict) -> bool | None:
        """Apply one inbox event (re-fetching its payment first with ``on_event="refetch"``): whether
        A applied it (``False``: another thread did), ``None`` if B did not answer the re-fetch."""
        payment = event["data"]["object"]
        if self.on_event == "refetch":
            payment = self.fetch_payment(payment["id"])
            if payment is None:
                return None
        if self.work_s:
            with self.lock:
                self.working += 1
            try:
                self._stop.wait(self.work_s)  # the work a real handler does (ship, e-mail, ...)
            finally:
                with self.lock:
                    self.working -= 1
        with self.lock:
            if event_id not in self.core.inbox:
                return False
            self.core.apply_event(event_id, payment, self.clock.now())
            return True

    def poll_once(self, payment_id: str) -> bool | None:
        """``GET`` one payment from B and apply it. News -> ``True``; no answer -> ``None``. In
        ``conditional`` and ``adaptive`` mode with the payment's ``ETag`` (a ``304``: nothing new);
        a ``429``/``503`` makes the poller wait what ``Retry-After`` says."""
        conditional = self.mode in ("conditional", "adaptive")
        tag = self._etags.get(payment_id) if conditional else None

        def apply(response: httpx.Response) -> bool | None:
            if response.status_code == 304:
                return False
            if response.status_code == 404:  # B forgot it (an in-memory B restarted): stop asking
                self.unknown_at_b.add(payment_id)
            if response.status_code != 200:
                return None
            if conditional:
                self._etags[payment_id] = response.headers.get("etag")
            with self.lock:
                return self.core.apply(response.json(), "poll", self.clock.now())

        learned: list[bool | None] = []
        response = logged_send(
            self.client, self.log, receiver="B", kind="poll", method="GET", url=f"/payments/{payment_id}",
            clock=self.clock, news_of=lambda response: learned.append(apply(response)) or learned[-1],
            headers={"If-None-Match": tag} if tag else None,
        )  # fmt: skip
        wait = pullers.told_to_wait(response, self.clock.now())
        if wait is not None:
            self._paused_until = time.monotonic() + wait
        if self._adaptive is not None and response is not None and response.status_code in (200, 304):
            self._adaptive.polled(payment_id, changed=response.status_code == 200)
        return learned[-1] if learned else None

    def is_done(self) -> bool:
        """True when A believes every payment it created has settled (or B no longer knows it)."""
        with self.lock:
            return not set(self.core.pending_ids()) - self.unknown_at_b

    def snapshot(self) -> dict[str, dict]:
        with self.lock:
            return self.core.snapshot()

    # --- background threads --------------------------------------------------------------
    def _work_loop(self) -> None:
        while not self._stop.is_set():
            if self.work_once() == 0:
                self._inbox_wake.wait(1.0)
                self._inbox_wake.clear()
                with self.lock:
                    self.core.forget_old_events(self.clock.now())

    def _reconcile_loop(self) -> None:
        while not self._stop.is_set():
            # B answered something unreadable or refused the registration: try again next round
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, ConnectionError):
                self.reconcile_once()
            self._stop.wait(self.reconcile_s)

    def _start_threads(self) -> None:
        self._stop.clear()
        loops = [(self._work_loop, "hooklab-worker")] if self.ack == "inbox" else []
        if self.reconcile_s is not None:
            loops.append((self._reconcile_loop, "hooklab-reconciler"))
        for target, name in loops:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _stop_threads(self) -> None:
        self._stop.set()
        self._inbox_wake.set()
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    # --- poller ---------------------------------------------------------------------------
    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            paused = self._paused_until - time.monotonic()
            if paused > 0:  # B said 429 / 503: wait Retry-After, then carry on where we were
                self._stop.wait(paused)
                continue
            with self.lock:
                due = self.schedule.due(self.clock.now())
            for payment_id in due:
                at = self.clock.now()
                self.poll_once(payment_id)
                with self.lock:
                    done = self.core.payments[payment_id]["status"] in FINAL_STATUSES
                    self.schedule.polled(payment_id, at, done=done or payment_id in self.unknown_at_b)
            with self.lock:
                next_at = self.schedule.next_at()
            timeout = None if next_at is None else max(0.0, next_at - self.clock.now())
            self._wake.wait(timeout)
            self._wake.clear()

    def start_poller(self) -> None:
        if self._poller is None:
            self._stop.clear()
            if self.mode in PULL_LOOP_MODES:
                target = functools.partial(pullers.run_in_own_loop, self, pullers.LOOPS[self.mode])
            else:
                target = self._poll_loop
            self._poller = threading.Thread(target=target, name=f"hooklab-{self.mode}", daemon=True)
            self._poller.start()

    def stop_poller(self) -> None:
        if self._poller is not None:
            self._stop.set()
            self._wake.set()
            pullers.stop(self)  # ends a held long poll or an open stream at once
            self._poller.join()
            self._poller = None

    def close(self) -> None:
        self.stop_poller()
        self._stop_threads()
        self._leave()

        if self._own_client:
            self.client.close()
        if self.store is not None:
            with self.lock:
                self.core.detach_store()  # what A knew stays readable after close
            self.store.close()

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
            await run_in_threadpool(self._leave)

    # --- routes ---------------------------------------------------------------------------
    async def webhook(self, request: Request) -> JSONResponse:
        """Where B delivers events. The raw body is verified before anything parses it."""
        mark(request, "webhook")
        body = await request.body()  # bounded by the body-limit middleware
        if self.ack == "inline" and (self.work_s or self.on_event == "refetch"):
            return await self._webhook_inline(request, body)
        with self.lock:
            reply = self.core.receive_webhook(body, request.headers, self.clock.now())
        if reply.status == 200:
            self._inbox_wake.set()
        mark(request, "webhook", reply.news)
        return JSONResponse(reply.body, status_code=reply.status)

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
                await run_in_threadpool(self.work_on, event_id, kept[0])
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
        with self.lock:
            rows = self.fulfilment_rows()
        return {"data": [{"payment_id": pid, "fulfilled_at": at} for pid, at in rows]}

    def fulfilment_rows(self) -> list[tuple[str, float]]:
        """Every fulfilment A made, as ``(payment_id, fulfilled_at)``; a payment twice would be a bug."""
        fulfilments = self.core.fulfilments
        if hasattr(fulfilments, "rows"):
            return fulfilments.rows()
        return list(fulfilments.items())

    async def health(self, request: Request) -> dict:
        """Whether A is up, and how it learns (poll or webhook)."""
        mark(request, "view")
        return {"ok": True, "system": self.name, "mode": self.mode}
