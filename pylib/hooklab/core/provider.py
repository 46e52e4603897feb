"""System B, the payment provider, as a sans-I/O core: no sockets, no sleeping, no threads.

It keeps payments, settles them when their time comes, turns every change into an event, and
plans webhook deliveries with retries. Adapters drive it: :mod:`hooklab.live.provider_app` over HTTP
with the wall clock, :mod:`hooklab.sim` in virtual time. It holds no clock: every method that needs
the time takes ``now`` (Unix seconds live, seconds since the start in a simulation).
"""

from __future__ import annotations

import heapq
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from hooklab.core.contract import FINAL_STATUSES, check_webhook_url, encode_event, event_type, redact_url
from hooklab.core.delivery import Delivery, DeliveryState, Endpoint
from hooklab.core.errors import ApiError

#: Seconds to wait before retry 1, 2, ...; after the last one a delivery is given up.
DEFAULT_RETRY_SCHEDULE = (0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True)
class SettlementModel:
    """How long payments stay ``pending`` and how many fail.

    The delay is ``min_s`` plus an exponential with mean ``mean_s - min_s``, drawn from the
    provider's seeded generator, so a seed fixes every settlement time.
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


class PaymentProvider:
    """System B's state and rules. Every method takes or reads time; none waits for it.

    Drive it by calling :meth:`settle_due` and :meth:`deliveries_due` at :meth:`next_wakeup`,
    and report each delivery attempt's outcome to :meth:`delivery_finished`, always passing ``now``.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        settlement: SettlementModel | None = None,
        retry_schedule: Sequence[float] = DEFAULT_RETRY_SCHEDULE,
        seeded_ids: bool = False,
    ) -> None:
        self.seeded_ids = seeded_ids
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

    def _new_id(self, prefix: str) -> str:
        # unique across processes by default (a restarted B must not hand out ids A already knows);
        # from the seed with seeded_ids, where a reproducible run is the point (the simulation)
        bits = self.rng.getrandbits(64) if self.seeded_ids else secrets.randbits(64)
        return f"{prefix}_{bits:016x}"

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # --- payments -----------------------------------------------------------------------
    def create_payment(self, amount: int, currency: str, now: float, *, settle: bool = True) -> dict:
        """Create a ``pending`` payment at ``now``; with ``settle`` it settles by itself after a random delay."""
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

    def update_status(self, payment_id: str, status: str, now: float) -> dict:
        """Change a payment's status at ``now``: bump its version, record the change, emit an event."""
        payment = self.payments[payment_id]
        payment.status = status
        payment.version += 1
        payment.updated_at = now
        event = {
            "id": self._new_id("evt"),
            "type": event_type(status),
            "created": now,
            "data": {"object": payment.to_dict()},
        }
        self._event_index[event["id"]] = len(self.events)
        self.events.append(event)
        self.changes.append(Change(payment.id, payment.version, status, now, event["id"]))
        self._enqueue_deliveries(event, now)
        return event

    def settle_due(self, now: float) -> list[dict]:
        """Settle every payment whose time has come by ``now``; return the events this made."""
        events = []
        while self._settle_queue and self._settle_queue[0][0] <= now:
            due, _, payment_id, outcome = heapq.heappop(self._settle_queue)
            # stamped with its due time, however late the driver calls: the ground truth stays exact
            events.append(self.update_status(payment_id, outcome, due))
        return events

    # --- webhooks -----------------------------------------------------------------------
    def register_endpoint(self, url: str, *, secret: str | None = None) -> dict:
        """Register a webhook URL; every later event is delivered there, signed with its secret.

        The URL must be on this machine (:func:`~hooklab.core.contract.check_webhook_url`). The
        secret comes from :mod:`secrets` (never from the seed: whoever knows a seed must not be
        able to sign), unless one is given (a notebook that shows a fixed signature).
        """
        url = check_webhook_url(url)
        if self.seeded_ids:
            self.rng.getrandbits(192)  # a seed's ids stay the same wherever the secret comes from
        endpoint = Endpoint(self._new_id("we"), url, secret or "whsec_" + secrets.token_hex(24))
        self.endpoints[endpoint.id] = endpoint
        return endpoint.to_dict()

    def list_endpoints(self) -> list[dict]:
        """Registered endpoints, oldest first, without their secrets (B shows a secret only once) and
        with any credentials in their URLs redacted."""
        return [{"id": e.id, "url": redact_url(e.url)} for e in self.endpoints.values()]

    def _enqueue_deliveries(self, event: dict, now: float) -> None:
        if not self.endpoints:
            return
        body = encode_event(event)
        for endpoint in self.endpoints.values():
            delivery = Delivery(self._new_id("dlv"), endpoint, event["id"], body, due_at=now)
            self.deliveries[delivery.id] = delivery
            heapq.heappush(self._delivery_queue, (now, self._next_seq(), delivery.id))

    def deliveries_due(self, now: float) -> list[Delivery]:
        """Deliveries whose (re)try is due at ``now``; they are in flight until reported back."""
        due = []
        while self._delivery_queue and self._delivery_queue[0][0] <= now:
            _, _, delivery_id = heapq.heappop(self._delivery_queue)
            delivery = self.deliveries[delivery_id]
            delivery.move("due")
            due.append(delivery)
        return due

    def delivery_finished(self, delivery: Delivery, status: int | None, now: float) -> None:
        """Report one attempt that ended at ``now``: any 2xx delivers it; anything else (or
        ``None``, no answer) schedules a retry, or gives up when the schedule is used up.

        Raises :class:`~hooklab.core.delivery.IllegalTransition` for a delivery not in flight.
        """
        if status is not None and 200 <= status < 300:
            delivery.move("succeeded")
            delivery.delivered_at = now
        elif delivery.attempt + 1 > len(self.retry_schedule):
            delivery.move("gave_up")
        else:
            delivery.move("failed")
        delivery.attempt += 1
        delivery.last_status = status
        if delivery.state is DeliveryState.PENDING:
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
