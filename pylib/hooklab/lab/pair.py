"""A live pair for one notebook cell: System B and System A served on 127.0.0.1, A registered.

:func:`webhook_pair` is what notebooks 02 and 03 build their live demos on: B pushes real signed
deliveries to A's real endpoint, and the pair gives a few verbs for what happens next (customers
pay, A goes down and comes back, B sends an event again, a delivery is captured as an attacker
would). Both servers stop, and their threads are joined, when the ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hooklab.core.clock import Clock
from hooklab.core.contract import FINAL_STATUSES, SIGNATURE_HEADER, WEBHOOK_PATH
from hooklab.core.provider import DEFAULT_RETRY_SCHEDULE, SettlementModel
from hooklab.live.client import LoggingTransport, send
from hooklab.live.provider_app import ProviderService
from hooklab.live.runs import synced, wait_until
from hooklab.live.serving import serve
from hooklab.live.shop_app import ShopService

#: Headers a client sets for itself; a replay lets httpx set them again (the body may differ).
_TRANSPORT_HEADERS = frozenset(
    {"host", "content-length", "connection", "accept", "accept-encoding", "user-agent", "transfer-encoding"}
)


def signed_timestamp(header: str) -> int:
    """The ``t=`` value of a Stripe-style signature header (``t=<unix>,v1=<hex>``), unverified."""
    for item in header.split(","):
        name, _, value = item.partition("=")
        if name == "t" and value.isdigit():
            return int(value)
    raise ValueError(f"no t=<digits> in {header!r}")


@dataclass(frozen=True)
class CapturedRequest:
    """One request exactly as A's server received it: header names lowercased, raw body bytes."""

    headers: dict[str, str]
    body: bytes

    @property
    def signature(self) -> str:
        return self.headers[SIGNATURE_HEADER.lower()]

    @property
    def signed_at(self) -> int:
        """The timestamp B signed (Unix seconds), read from the header without verifying it."""
        return signed_timestamp(self.signature)

    @property
    def event(self) -> dict:
        return json.loads(self.body)

    def replay_headers(self) -> dict[str, str]:
        """The headers to send again, without the ones the HTTP client sets for itself."""
        return {k: v for k, v in self.headers.items() if k not in _TRANSPORT_HEADERS}


class RecordingApp:
    """ASGI wrapper that keeps a copy of every ``POST`` to ``path`` and passes it on unchanged.

    Stands for whatever could leak a real delivery: a proxy's request log, a debugging dump, a
    compromised log store.
    """

    def __init__(self, app, path: str = WEBHOOK_PATH) -> None:
        self.app = app
        self.path = path
        self.captured: list[CapturedRequest] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def recording_receive():
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            await self.app(scope, recording_receive, send)
        finally:
            self.captured.append(CapturedRequest(headers, b"".join(chunks)))


@dataclass
class WebhookPair:
    """B and A served on 127.0.0.1, A registered with B. Made by :func:`webhook_pair`."""

    provider: ProviderService
    shop: ShopService
    b_url: str
    a_url: str
    endpoint: dict
    recorder: RecordingApp = field(repr=False)
    _restart: Callable[[], contextlib.AbstractContextManager] = field(repr=False)
    _stack: contextlib.ExitStack = field(repr=False)
    _new_shop: Callable[[], ShopService] = field(repr=False)

    @property
    def webhook_url(self) -> str:
        """The URL B delivers to (A's endpoint)."""
        return self.a_url + WEBHOOK_PATH

    @property
    def secret(self) -> str:
        """The signing secret B issued for A's endpoint (B and A know it; an attacker does not)."""
        return self.endpoint["secret"]

    @property
    def clock(self) -> Clock:
        """A's clock."""
        return self.shop.clock

    @property
    def captured(self) -> list[CapturedRequest]:
        """Every request A's webhook endpoint has received so far, in order."""
        return self.recorder.captured

    def b_snapshot(self) -> dict[str, dict]:
        """Every payment as B knows it."""
        return self.provider.snapshot()

    def checkout(self, n: int = 1, amount: int = 1999) -> list[dict]:
        """A creates ``n`` payments at B (customers check out), then waits until A knows they settled."""
        payments = [self.shop.create_payment(amount) for _ in range(n)]
        self.wait_until_synced()
        return payments

    def pay_at_b(self, amount: int = 1999) -> dict:
        """A customer pays on B's own checkout page: A is not involved and learns only by webhook."""
        response = httpx.post(self.b_url + "/payments", json={"amount": amount, "currency": "eur"})
        response.raise_for_status()
        return response.json()

    def pay_and_capture(self, amount: int = 1999, timeout_s: float = 10.0) -> CapturedRequest:
        """A customer pays at B; wait until A learned the settlement; return the delivery that told it."""
        payment_id = self.pay_at_b(amount)["id"]

        def told(request: CapturedRequest) -> bool:
            return request.event.get("data", {}).get("object", {}).get("id") == payment_id

        def settled_and_captured() -> bool:
            known = self.shop.snapshot().get(payment_id)
            return known is not None and known["status"] in FINAL_STATUSES and any(map(told, self.captured))

        wait_until(settled_and_captured, timeout_s, f"B to deliver the settlement of {payment_id}")
        return next(request for request in self.captured if told(request))

    def synced(self) -> bool:
        """B has settled everything and finished every delivery, and A's view equals B's."""
        return synced(self.provider, self.shop)

    def wait_until_synced(self, timeout_s: float = 15.0) -> float:
        return wait_until(self.synced, timeout_s, "A to learn every change B made")

    def failed_attempts(self) -> int:
        """How many delivery attempts B has seen fail (no answer or not 2xx)."""
        log = self.provider.log.to_frame()
        sent = log[(log["kind"] == "webhook") & (log["direction"] == "out")]
        return int((~sent["status"].between(200, 299).fillna(False)).sum())

    @contextlib.contextmanager
    def a_down(self) -> Iterator[None]:
        """A's process dies for the ``with`` block (a crash, a deploy); a new one starts after.

        The old :class:`ShopService` is closed, so everything in its memory is gone; the new one
        opens the same SQLite file and listens on the same port (B's registered URL stays valid),
        so it knows every payment, processed event and secret the old one committed.
        """
        self._stack.close()
        self.shop.close()
        try:
            yield
        finally:
            self.shop = self._new_shop()
            self.recorder.app = self.shop.app
            self._stack.enter_context(self._restart())

    def redeliver(self) -> httpx.Response:
        """B sends its last delivered event again, as a retry would after A answered too slowly.

        Same event id and body, fresh signature (B signs every attempt), logged in B's log.
        """
        delivered = [d for d in self.provider.deliveries() if d["state"] == "delivered"]
        if not delivered:
            raise RuntimeError("nothing was delivered yet: take a payment first (pair.checkout())")
        url, headers, body = self.provider.signed_again(delivered[-1]["id"])
        logging = LoggingTransport(httpx.HTTPTransport(), self.provider.log, self.provider.clock, "A")
        with httpx.Client(transport=logging) as client:
            response = send(client, "webhook", "POST", url, content=body, headers=headers)
        if response is None:
            raise ConnectionError(f"A is not answering at {url}; is it down (pair.a_down())?")
        return response


@contextlib.contextmanager
def webhook_pair(
    *,
    seed: int = 0,
    settlement: SettlementModel | None = None,
    retry_schedule: Sequence[float] = DEFAULT_RETRY_SCHEDULE,
    clock: Clock | None = None,
    tolerance_s: int | None = None,
    scheme: str = "hooklab",
) -> Iterator[WebhookPair]:
    """Serve B, serve A in webhook mode (on ``clock``), register A's endpoint; stop both after the block.

    ``tolerance_s`` is A's replay window (seconds either side of its clock); A's app is wrapped in
    a :class:`RecordingApp`, so the pair can hand out the real deliveries it received. ``scheme``:
    the convention B signs in and A verifies (:mod:`hooklab.core.schemes`). A keeps its
    state in a SQLite file in a temporary folder, removed when the block ends.
    """
    # seeded ids: a demo shows the same ids on every run (its secret is still from `secrets`)
    provider = ProviderService(
        seed=seed, settlement=settlement, retry_schedule=retry_schedule, seeded_ids=True, scheme=scheme
    )
    with tempfile.TemporaryDirectory(prefix="hooklab-a-") as folder, serve(provider.app) as b:

        def new_shop() -> ShopService:  # A's process: memory fresh, SQLite file the same
            shop = ShopService(
                b.url, mode="webhook", clock=clock, db_path=Path(folder) / "shop.db", scheme=scheme
            )
            if tolerance_s is not None:
                shop.core.tolerance_s = tolerance_s
            return shop

        shop = new_shop()
        recorder = RecordingApp(shop.app)
        stack = contextlib.ExitStack()
        live = None
        try:
            a = stack.enter_context(serve(recorder))
            endpoint = shop.register_webhook(a.url)
            restart = lambda: serve(recorder, port=a.port)  # noqa: E731 (same port: B's URL stays valid)
            live = WebhookPair(provider, shop, b.url, a.url, endpoint, recorder, restart, stack, new_shop)
            yield live
        finally:
            stack.close()
            (live.shop if live is not None else shop).close()
