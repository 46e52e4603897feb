"""System B, the payment provider, as a sans-I/O core: no sockets, no sleeping, no threads.

It keeps payments, settles them when their time comes, turns every change into an event, and
plans webhook deliveries with retries. Adapters drive it: :mod:`hooklab.provider_app` over HTTP
with the wall clock, :mod:`hooklab.sim` in virtual time. Time is always passed in or read from
the injected clock. Introduced in notebooks/01-api-polling.ipynb (payments, polling) and
notebooks/02-webhooks.ipynb (events, deliveries).
"""

from __future__ import annotations

import heapq
import ipaddress
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from hooklab.clock import Clock
from hooklab.errors import ApiError
from hooklab.signing import sign_stripe

FINAL_STATUSES = frozenset({"succeeded", "failed"})
#: Header that carries B's Stripe-style signature on every webhook delivery.
SIGNATURE_HEADER = "Hooklab-Signature"
#: Seconds to wait before retry 1, 2, ...; after the last one a delivery is given up.
DEFAULT_RETRY_SCHEDULE = (0.5, 1.0, 2.0, 4.0, 8.0)
MAX_AMOUNT = 10**12


@dataclass(frozen=True)
class SettlementModel:
    """How long payments stay ``pending`` and how many fail.

    The delay is ``min_s`` plus an exponential with mean ``mean_s - min_s``, drawn from the
    provider's seeded generator, so a seed fixes every settlement time.

    Introduced in notebooks/01-api-polling.ipynb.
    """

    mean_s: float = 2.0
    min_s: float = 0.2
    failure_share: float = 0.1

    def __post_init__(self) -> None:
        if not 0 <= self.min_s <= self.mean_s:
            raise ValueError(f"need 0 <= min_s <= mean_s, got min_s={self.min_s} mean_s={self.mean_s}")
        if not 0 <= self.failure_share <= 1:
            raise ValueError(f"failure_share must be in [0, 1], got {self.failure_share}")

    def draw(self, rng: random.Random) -> tuple[float, str]:
        extra = self.mean_s - self.min_s
        delay = self.min_s + (rng.expovariate(1 / extra) if extra > 0 else 0.0)
        outcome = "failed" if rng.random() < self.failure_share else "succeeded"
        return delay, outcome


@dataclass
class Payment:
    id: str
    amount: int
    currency: str
    status: str
    version: int
    created_at: float
    updated_at: float

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "status": self.status,
            "amount": self.amount,
            "currency": self.currency,
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class Change:
    """One status change of one payment: the ground truth latencies are measured against."""

    payment_id: str
    version: int
    status: str
    changed_at: float
    event_id: str


@dataclass
class Endpoint:
    id: str
    url: str
    secret: str

    def to_dict(self) -> dict:
        return {"id": self.id, "url": self.url, "secret": self.secret}


@dataclass
class Delivery:
    """One event on its way to one endpoint; ``attempt`` counts tries made so far."""

    id: str
    endpoint: Endpoint
    event_id: str
    body: bytes
    due_at: float
    attempt: int = 0
    state: str = "pending"  # pending -> in_flight -> delivered | pending (retry) | failed
    last_status: int | None = None
    delivered_at: float | None = None

    def request(self, now: float) -> tuple[str, dict[str, str], bytes]:
        """URL, headers and body of the next attempt, signed at ``now`` (like Stripe, per try)."""
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_stripe(self.body, self.endpoint.secret, int(now)),
            "Hooklab-Delivery": self.id,
            "Hooklab-Attempt": str(self.attempt + 1),
        }
        return self.endpoint.url, headers, self.body


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_payment_request(body: object) -> tuple[int, str]:
    """Check a ``POST /payments`` body; return ``(amount, currency)`` or raise :class:`ApiError`."""
    if not isinstance(body, dict):
        raise ApiError(
            422,
            "invalid_body",
            'body must be a JSON object like {"amount": 1999, "currency": "eur"}',
        )
    unknown = sorted(set(body) - {"amount", "currency"})
    if unknown:
        raise ApiError(422, "unknown_field", f"unknown field(s) {unknown}; allowed: amount, currency")
    if "amount" not in body:
        raise ApiError(
            422,
            "missing_field",
            "field 'amount' is required (an integer in minor units, e.g. cents)",
        )
    if "currency" not in body:
        raise ApiError(
            422, "missing_field", "field 'currency' is required (a 3-letter ISO code such as 'eur')"
        )
    amount, currency = body["amount"], body["currency"]
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ApiError(
            422,
            "invalid_amount",
            f"'amount' must be an integer number of minor units (cents), got {amount!r}",
        )
    if not 0 < amount <= MAX_AMOUNT:
        raise ApiError(422, "invalid_amount", f"'amount' must be between 1 and {MAX_AMOUNT}, got {amount}")
    if (
        not isinstance(currency, str)
        or len(currency) != 3
        or not currency.isascii()
        or not currency.isalpha()
    ):
        raise ApiError(
            422,
            "invalid_currency",
            f"'currency' must be a 3-letter ISO code such as 'eur', got {currency!r}",
        )
    return amount, currency.lower()


def validate_endpoint_request(body: object) -> str:
    """Check a ``POST /webhook-endpoints`` body; return the URL or raise :class:`ApiError`."""
    if not isinstance(body, dict) or not isinstance(body.get("url"), str):
        raise ApiError(
            422,
            "invalid_body",
            'body must be a JSON object like {"url": "http://127.0.0.1:8001/webhooks"}',
        )
    unknown = sorted(set(body) - {"url"})
    if unknown:
        raise ApiError(422, "unknown_field", f"unknown field(s) {unknown}; allowed: url")
    url = body["url"]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(422, "invalid_url", f"'url' must be an absolute http(s) URL, got {url!r}")
    if not _is_loopback(parts.hostname):
        raise ApiError(
            422, "url_not_loopback",
            f"hooklab only delivers to this machine: use 127.0.0.1, localhost or [::1], not {parts.hostname!r}",
        )  # fmt: skip
    return url


class PaymentProvider:
    """System B's state and rules. Every method takes or reads time; none waits for it.

    Drive it by calling :meth:`settle_due` and :meth:`deliveries_due` at :meth:`next_wakeup`,
    and report each delivery attempt's outcome to :meth:`delivery_finished`.

    Introduced in notebooks/02-webhooks.ipynb (the core up close; notebooks/01-api-polling.ipynb uses it through ``ProviderService``).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        seed: int = 0,
        settlement: SettlementModel | None = None,
        retry_schedule: Sequence[float] = DEFAULT_RETRY_SCHEDULE,
    ) -> None:
        self.clock = clock
        self.rng = random.Random(seed)
        # settlements draw from their own stream, so a seed fixes the workload whatever else draws
        # ids (registering a webhook endpoint must not change when payments settle)
        self.settle_rng = random.Random(f"settlement-{seed}")
        self.settlement = settlement or SettlementModel()
        self.retry_schedule = tuple(retry_schedule)
        self.payments: dict[str, Payment] = {}
        self.events: list[dict] = []
        self._event_index: dict[str, int] = {}  # event id -> position in events (list_events)
        self.changes: list[Change] = []
        self.endpoints: dict[str, Endpoint] = {}
        self.deliveries: dict[str, Delivery] = {}
        self._settle_queue: list[tuple[float, int, str, str]] = []  # (due, seq, payment_id, status)
        self._delivery_queue: list[tuple[float, int, str]] = []  # (due, seq, delivery_id)
        self._seq = 0

    # ids are drawn from the seeded generator so a seed reproduces a whole run, ids included
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{self.rng.getrandbits(64):016x}"

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # --- payments -----------------------------------------------------------------------
    def create_payment(self, amount: int, currency: str, *, settle: bool = True) -> dict:
        """Create a ``pending`` payment; with ``settle`` it settles by itself after a random delay."""
        now = self.clock.now()
        payment = Payment(self._new_id("pay"), amount, currency, "pending", 1, now, now)
        self.payments[payment.id] = payment
        if settle:
            delay, outcome = self.settlement.draw(self.settle_rng)
            heapq.heappush(self._settle_queue, (now + delay, self._next_seq(), payment.id, outcome))
        return payment.to_dict()

    def get_payment(self, payment_id: str) -> dict:
        payment = self.payments.get(payment_id)
        if payment is None:
            raise ApiError(
                404, "not_found",
                f"no payment with id {payment_id!r}; create one with POST /payments first",
            )  # fmt: skip
        return payment.to_dict()

    def update_status(self, payment_id: str, status: str, at: float | None = None) -> dict:
        """Change a payment's status (now, or at ``at``): bump its version, record the change, emit an event."""
        payment = self.payments[payment_id]
        now = self.clock.now() if at is None else at
        payment.status = status
        payment.version += 1
        payment.updated_at = now
        event = {
            "id": self._new_id("evt"),
            "type": f"payment.{status}",
            "created": now,
            "data": {"object": payment.to_dict()},
        }
        self._event_index[event["id"]] = len(self.events)
        self.events.append(event)
        self.changes.append(Change(payment.id, payment.version, status, now, event["id"]))
        self._enqueue_deliveries(event, now)
        return event

    def settle_due(self, now: float | None = None) -> list[dict]:
        """Settle every payment whose time has come; return the events this made."""
        now = self.clock.now() if now is None else now
        events = []
        while self._settle_queue and self._settle_queue[0][0] <= now:
            due, _, payment_id, outcome = heapq.heappop(self._settle_queue)
            # stamped with its due time, however late the driver calls: the ground truth stays exact
            events.append(self.update_status(payment_id, outcome, at=due))
        return events

    # --- webhooks -----------------------------------------------------------------------
    def register_endpoint(self, url: str) -> dict:
        """Register a webhook URL; every later event is delivered there, signed with its secret."""
        endpoint = Endpoint(self._new_id("we"), url, "whsec_" + f"{self.rng.getrandbits(192):048x}")
        self.endpoints[endpoint.id] = endpoint
        return endpoint.to_dict()

    def list_endpoints(self) -> list[dict]:
        """Registered endpoints, oldest first, without their secrets (B shows a secret only once)."""
        return [{"id": e.id, "url": e.url} for e in self.endpoints.values()]

    def _enqueue_deliveries(self, event: dict, now: float) -> None:
        if not self.endpoints:
            return
        body = json.dumps(event, separators=(",", ":")).encode()
        for endpoint in self.endpoints.values():
            delivery = Delivery(self._new_id("dlv"), endpoint, event["id"], body, due_at=now)
            self.deliveries[delivery.id] = delivery
            heapq.heappush(self._delivery_queue, (now, self._next_seq(), delivery.id))

    def deliveries_due(self, now: float | None = None) -> list[Delivery]:
        """Deliveries whose (re)try is due; they are marked in flight until reported back."""
        now = self.clock.now() if now is None else now
        due = []
        while self._delivery_queue and self._delivery_queue[0][0] <= now:
            _, _, delivery_id = heapq.heappop(self._delivery_queue)
            delivery = self.deliveries[delivery_id]
            delivery.state = "in_flight"
            due.append(delivery)
        return due

    def delivery_finished(self, delivery: Delivery, status: int | None, now: float | None = None) -> None:
        """Report one attempt: any 2xx delivers it; anything else (or ``None``) schedules a retry."""
        now = self.clock.now() if now is None else now
        delivery.attempt += 1
        delivery.last_status = status
        if status is not None and 200 <= status < 300:
            delivery.state = "delivered"
            delivery.delivered_at = now
        elif delivery.attempt > len(self.retry_schedule):
            delivery.state = "failed"
        else:
            delivery.state = "pending"
            delivery.due_at = now + self.retry_schedule[delivery.attempt - 1]
            heapq.heappush(self._delivery_queue, (delivery.due_at, self._next_seq(), delivery.id))

    def next_wakeup(self) -> float | None:
        """When something is next due (a settlement or a delivery), or ``None`` if nothing is."""
        times = [q[0][0] for q in (self._settle_queue, self._delivery_queue) if q]
        return min(times) if times else None

    # --- reading ------------------------------------------------------------------------
    def list_events(self, after: str | None = None, limit: int = 100) -> list[dict]:
        """Events in creation order, those after event id ``after`` (a changes feed)."""
        start = 0
        if after is not None:
            # a dict lookup, not a scan: a feed reader calls this every few seconds (sim.strategies.Feed)
            position = self._event_index.get(after)
            if position is None:
                raise ApiError(
                    404,
                    "not_found",
                    f"no event with id {after!r}; omit 'after' to start from the first",
                )
            start = position + 1
        return self.events[start : start + limit]

    def snapshot(self) -> dict[str, dict]:
        """Every payment as B knows it: ``{id: payment_dict}``."""
        return {pid: p.to_dict() for pid, p in self.payments.items()}

    def all_settled(self) -> bool:
        return all(p.status in FINAL_STATUSES for p in self.payments.values())
