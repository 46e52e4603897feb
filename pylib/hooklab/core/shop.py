"""System A, the shop, as a sans-I/O core: what it knows about payments and how it learns.

Two ways to learn that a payment settled:

- pull: :class:`PollSchedule` says which payments to ``GET`` when; :meth:`Shop.apply` takes
  each answer and says whether it was news;
- push: :meth:`Shop.receive_webhook` takes a raw webhook request (bytes and headers) and returns
  the reply, after checking the signature, the size, the JSON and duplicates.

No sockets, no threads, no sleeping, no clock: every method that needs the time takes ``now``.
:mod:`hooklab.live.shop_app` and :mod:`hooklab.sim` drive it. What A must remember across a crash
goes to a :class:`ShopStore` (SQLite live, :mod:`hooklab.live.store`); without one, plain dicts.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Mapping, MutableMapping, MutableSet, Sequence
from dataclasses import dataclass
from typing import Protocol

from hooklab.core.contract import FINAL_STATUSES, MAX_BODY_BYTES, SIGNATURE_HEADER, parse_json, validate_event
from hooklab.core.errors import ApiError
from hooklab.core.signing import STRIPE_SIGNATURE_HEADER, SignatureError, verify_stripe


@dataclass(frozen=True)
class Observation:
    """A learned a new version of a payment at ``learned_at`` (via ``poll`` or ``webhook``)."""

    payment_id: str
    version: int
    status: str
    learned_at: float
    via: str


@dataclass(frozen=True)
class WebhookReply:
    """What A answers a webhook request with, plus what the request log should say of it."""

    status: int
    body: dict
    news: bool | None


class ShopStore(Protocol):
    """Durable memory for A: what :class:`Shop` keeps when it is given a store."""

    payments: MutableMapping[str, dict]
    processed_events: MutableSet[str]

    def webhook_secrets(self) -> list[str]: ...

    def add_webhook_secret(self, secret: str) -> None: ...

    def transaction(self) -> contextlib.AbstractContextManager: ...


class Shop:
    """A's view of B's payments, the inbox of processed event ids, and what it learned when."""

    def __init__(
        self,
        *,
        webhook_secrets: Sequence[str] = (),
        tolerance_s: int = 300,
        store: ShopStore | None = None,
    ) -> None:
        self.store = store
        # business state: in memory by default (the simulation), or durable in SQLite (live A)
        self.payments: MutableMapping[str, dict] = store.payments if store else {}
        self.processed_events: MutableSet[str] = store.processed_events if store else set()
        self.webhook_secrets: list[str] = store.webhook_secrets() if store else []
        self._atomic = store.transaction if store else contextlib.nullcontext
        for secret in webhook_secrets:
            self.add_webhook_secret(secret)
        self.observations: list[Observation] = []  # the experiment's record, not business state
        self.tolerance_s = tolerance_s
        self.rejections: list[tuple[float, str]] = []  # (time, reason): what was refused, for the notebooks

    # --- knowledge ------------------------------------------------------------------------
    def apply(self, payment: Mapping, via: str, now: float) -> bool:
        """Take a payment snapshot, seen at ``now``; return ``True`` if it is newer than what A knew (news).

        Older or equal versions are ignored, so late or duplicated snapshots never move A's view
        backwards (ordering: notebooks/02-webhooks.ipynb, section 5.4).
        """
        known = self.payments.get(payment["id"])
        if known is not None and payment["version"] <= known["version"]:
            return False
        self.payments[payment["id"]] = dict(payment)
        self.observations.append(Observation(payment["id"], payment["version"], payment["status"], now, via))
        return True

    def pending_ids(self) -> list[str]:
        return sorted(pid for pid, p in self.payments.items() if p["status"] not in FINAL_STATUSES)

    def snapshot(self) -> dict[str, dict]:
        """Every payment as A knows it: ``{id: payment_dict}`` (same shape as B's snapshot)."""
        return {pid: dict(p) for pid, p in self.payments.items()}

    def detach_store(self) -> ShopStore | None:
        """Keep an in-memory copy of the state and stop using the store (before it is closed).

        What A knew stays readable after its database is closed, e.g. in a notebook cell after the
        ``with`` block that ran A. Returns the store that was detached.
        """
        store, self.store = self.store, None
        if store is not None:
            self.payments = dict(self.payments)
            self.processed_events = set(self.processed_events)
            self._atomic = contextlib.nullcontext
        return store

    # --- push -----------------------------------------------------------------------------
    def add_webhook_secret(self, secret: str) -> None:
        """Trust one more signing secret (keep the old one during a rotation)."""
        if secret not in self.webhook_secrets:
            self.webhook_secrets.append(secret)
            if self.store is not None:
                self.store.add_webhook_secret(secret)

    def receive_webhook(self, body: bytes, headers: Mapping[str, str], now: float) -> WebhookReply:
        """Handle one webhook request from its raw bytes, arriving at ``now``. Never raises;
        nothing is stored on error.

        Order matters: size first (cheap), then the signature over the *raw* body (before any
        parsing, so a re-serialised body cannot pass), then JSON, then duplicates.
        """
        try:
            event = self._verified_event(body, headers, now)
        except ApiError as err:
            self.rejections.append((now, err.code))
            return WebhookReply(err.status, err.to_dict(), None)
        with self._atomic():  # marked processed and applied together, or neither (a crash between)
            if event["id"] in self.processed_events:
                return WebhookReply(200, {"received": True, "duplicate": True, "event": event["id"]}, False)
            self.processed_events.add(event["id"])
            news = self.apply(event["data"]["object"], "webhook", now)
        return WebhookReply(200, {"received": True, "duplicate": False, "event": event["id"]}, news)

    def _verified_event(self, body: bytes, headers: Mapping[str, str], now: float) -> dict:
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(
                413,
                "body_too_large",
                f"webhook body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}",
            )
        if not self.webhook_secrets:
            raise ApiError(
                503, "no_secret",
                "this endpoint has no signing secret yet: register it with System B "
                "(POST /webhook-endpoints) and keep the secret it returns",
            )  # fmt: skip
        header = _header(headers, SIGNATURE_HEADER)
        try:
            verify_stripe(body, header, self.webhook_secrets, tolerance=self.tolerance_s, now=now)
        except SignatureError as err:
            # same scheme as Stripe's, under hooklab's own header name: say the name the caller must fix
            message = str(err).replace(STRIPE_SIGNATURE_HEADER, SIGNATURE_HEADER)
            raise ApiError(400, "bad_signature", message, reason=err.reason) from None
        return validate_event(parse_json(body))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lower = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lower), None)
    return value


class PollSchedule:
    """When to poll which payment: each one every ``interval_s`` from when it was added.

    Sans-I/O: :meth:`due` says what to poll now, :meth:`polled` records that it was.
    """

    def __init__(self, interval_s: float) -> None:
        if not interval_s > 0:
            raise ValueError(f"the polling interval must be > 0 seconds, got {interval_s}")
        self.interval_s = float(interval_s)
        self._queue: list[tuple[float, int, str]] = []
        self._next_at: dict[str, float] = {}
        self._seq = 0

    def add(self, payment_id: str, now: float) -> None:
        self._push(payment_id, now + self.interval_s)

    def _push(self, payment_id: str, at: float) -> None:
        self._seq += 1
        self._next_at[payment_id] = at
        heapq.heappush(self._queue, (at, self._seq, payment_id))

    def due(self, now: float) -> list[str]:
        """Payments whose poll is due at ``now``, earliest first."""
        out = []
        while self._queue and self._queue[0][0] <= now:
            at, _, payment_id = heapq.heappop(self._queue)
            if self._next_at.get(payment_id) == at:
                out.append(payment_id)
        return out

    def polled(self, payment_id: str, at: float, *, done: bool) -> None:
        """Record a poll made at ``at``; ``done`` stops polling that payment."""
        if done:
            self._next_at.pop(payment_id, None)
        else:
            self._push(payment_id, at + self.interval_s)

    def next_at(self) -> float | None:
        while self._queue and self._next_at.get(self._queue[0][2]) != self._queue[0][0]:
            heapq.heappop(self._queue)
        return self._queue[0][0] if self._queue else None

    def __len__(self) -> int:
        return len(self._next_at)
