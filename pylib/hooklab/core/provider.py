"""System B, the payment provider, as a sans-I/O core: no sockets, no sleeping, no threads.

It keeps payments, settles them when their time comes, turns every change into an event, and
plans webhook deliveries with retries. Adapters drive it: :mod:`hooklab.live.provider_app` over HTTP
with the wall clock, :mod:`hooklab.sim` in virtual time. It holds no clock: every method that needs
the time takes ``now`` (Unix seconds live, seconds since the start in a simulation).
"""

from __future__ import annotations

import contextlib
import heapq
import math
import random
import secrets
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from hooklab.core.contract import FINAL_STATUSES, check_webhook_url, event_type, redact_url
from hooklab.core.delivery import Attempt, Delivery, DeliveryState, Endpoint
from hooklab.core.errors import ApiError
from hooklab.core.retry import POLICIES, RetryPolicy, retry_policy
from hooklab.core.schemes import scheme

#: Seconds to wait before retry 1, 2, ...; after the last one a delivery is given up (``fast``).
DEFAULT_RETRY_SCHEDULE = POLICIES["fast"].waits_s
#: Statuses whose ``Retry-After`` B obeys (RFC 9110: 503; RFC 6585: 429).
RETRY_AFTER_STATUSES = frozenset({429, 503})


_MASK = (1 << 64) - 1


def seeded_id(seed: int, prefix: str, ordinal: int) -> str:
    """The ``ordinal``-th id B hands out with ``prefix`` (``pay``, ``evt``, ``we``, ``dlv``) under
    ``seed``, with seeded ids: a function of the three alone (splitmix64 over them), so whoever
    knows how many of a kind came before can name the next one without replaying B (the vector
    engine names payments this way)."""
    x = ((seed & _MASK) * 0x9E3779B97F4A7C15 ^ zlib.crc32(prefix.encode()) << 32 ^ ordinal) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return f"{prefix}_{x ^ (x >> 31):016x}"


def make_event(event_id: str, payment: dict, now: float) -> dict:
    """The event B makes when ``payment`` reaches its status at ``now`` (what is signed and sent; the
    vector engine sizes its deliveries from the same builder)."""
    return {
        "id": event_id,
        "type": event_type(payment["status"]),
        "created": now,
        "data": {"object": payment},
    }


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


class ProviderStore(Protocol):
    """Durable memory for B (:mod:`hooklab.live.provider_store`): the core writes every change
    through it, inside :meth:`transaction`, and reads it all back with :meth:`load` on start."""

    def transaction(self) -> contextlib.AbstractContextManager: ...

    def save_payment(self, payment: dict) -> None: ...

    def save_event(self, event: dict) -> None: ...

    def save_endpoint(self, endpoint: Endpoint) -> None: ...

    def save_delivery(self, delivery: Delivery) -> None: ...

    def remove_delivery(self, delivery_id: str) -> None: ...

    def remove_endpoint(self, endpoint_id: str) -> None: ...

    def save_settlement(self, payment_id: str, due: float, outcome: str) -> None: ...

    def remove_settlement(self, payment_id: str) -> None: ...

    def load(self) -> dict: ...


#: A token bucket refilled by float arithmetic can stop a hair short of a whole token.
_TOKEN_EPSILON = 1e-9


class PaymentProvider:
    """System B's state and rules. Every method takes or reads time; none waits for it.

    Drive it by calling :meth:`settle_due` and :meth:`deliveries_due` at :meth:`next_wakeup`,
    and report each delivery attempt's outcome to :meth:`delivery_finished`, always passing ``now``.

    ``retry_schedule``: a policy name of :data:`hooklab.core.retry.POLICIES` (``fast``, ``svix``,
    ...), a :class:`~hooklab.core.retry.RetryPolicy`, or a list of waits. ``jitter`` spreads each
    wait by up to that fraction. ``max_in_flight``: attempts in flight per endpoint at most (None:
    no limit); each endpoint has its own queue, so a dead endpoint never holds up a healthy one.
    ``endpoint_rate``: ``(n, seconds)``, at most ``n`` attempts per ``seconds`` to each endpoint (a
    token bucket, as Svix throttles an endpoint), so a backlog drains at a pace its receiver set;
    ``recovery_spread_s``: a recovered endpoint's backlog is released at random moments over this many
    seconds, not all at once (no thundering herd on a receiver just back up).
    ``store``: write everything through to durable memory, and start from what it holds.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        settlement: SettlementModel | None = None,
        retry_schedule: str | Sequence[float] | RetryPolicy = "fast",
        seeded_ids: bool = False,
        jitter: float = 0.0,
        max_in_flight: int | None = None,
        store: ProviderStore | None = None,
        endpoint_rate: tuple[int, float] | None = None,
        recovery_spread_s: float = 0.0,
        scheme_name: str = "hooklab",
    ) -> None:
        #: how B lays out and signs every delivery (:mod:`hooklab.core.schemes`)
        self.scheme = scheme(scheme_name)
        if endpoint_rate is not None and not (endpoint_rate[0] >= 1 and endpoint_rate[1] > 0):
            raise ValueError(f"endpoint_rate is (n >= 1, seconds > 0), got {endpoint_rate}")
        if not recovery_spread_s >= 0:
            raise ValueError(f"recovery_spread_s must be >= 0, got {recovery_spread_s}")
        self.endpoint_rate, self.recovery_spread_s = endpoint_rate, recovery_spread_s
        # per endpoint: (tokens, when counted); a token is one attempt (endpoint_rate)
        self._tokens: dict[str, tuple[float, float]] = {}
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {jitter}")
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1 or None, got {max_in_flight}")
        if store is not None and seeded_ids:
            raise ValueError("seeded ids with a durable store would hand out the same ids again after "
                             "a restart: use one or the other")  # fmt: skip
        self.seeded_ids, self.seed = seeded_ids, seed
        self._issued: Counter[str] = Counter()  # ids handed out so far, per prefix (seeded ids)
        # settlements draw from their own stream, so a seed fixes the workload whatever else draws
        # ids (registering a webhook endpoint must not change when payments settle)
        self.settle_rng = random.Random(f"settlement-{seed}")
        self.jitter_rng = random.Random(f"jitter-{seed}")
        self.settlement = settlement or SettlementModel()
        self.policy = retry_policy(retry_schedule)
        self.retry_schedule = self.policy.waits_s
        self.jitter = jitter
        self.max_in_flight = max_in_flight
        self.store = store
        self._atomic = store.transaction if store is not None else contextlib.nullcontext
        self.payments: dict[str, Payment] = {}
        self.events: list[dict] = []
        self._event_index: dict[str, int] = {}  # event id -> position in events (list_events)
        self.changes: list[Change] = []
        self.endpoints: dict[str, Endpoint] = {}
        self.deliveries: dict[str, Delivery] = {}
        self._settle_queue: list[tuple[float, int, str, str]] = []  # (due, seq, payment_id, status)
        # one queue per endpoint: (due, seq, delivery_id); and how many of its attempts are in flight
        self._queues: dict[str, list[tuple[float, int, str]]] = {}
        self._in_flight: dict[str, int] = {}
        self._seq = 0
        if store is not None:
            self._restore(store.load())

    def _new_id(self, prefix: str) -> str:
        # unique across processes by default (a restarted B must not hand out ids A already knows);
        # from the seed with seeded_ids, where a reproducible run is the point (the simulation)
        if not self.seeded_ids:
            return f"{prefix}_{secrets.randbits(64):016x}"
        self._issued[prefix] += 1
        return seeded_id(self.seed, prefix, self._issued[prefix] - 1)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # --- payments -----------------------------------------------------------------------
    def create_payment(self, amount: int, currency: str, now: float, *, settle: bool = True) -> dict:
        """Create a ``pending`` payment at ``now``; with ``settle`` it settles by itself after a random delay."""
        payment = Payment(self._new_id("pay"), amount, currency, "pending", 1, now, now)
        self.payments[payment.id] = payment
        with self._atomic():
            if settle:
                delay, outcome = self.settlement.draw(self.settle_rng)
                heapq.heappush(self._settle_queue, (now + delay, self._next_seq(), payment.id, outcome))
                if self.store is not None:
                    self.store.save_settlement(payment.id, now + delay, outcome)
            if self.store is not None:
                self.store.save_payment(payment.to_dict())
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
        """Change a payment's status at ``now``: bump its version, record the change, emit an event,
        and plan its deliveries: all in one transaction with a store (the transactional outbox:
        there is never a change without its event, nor an event without its deliveries)."""
        payment = self.payments[payment_id]
        payment.status = status
        payment.version += 1
        payment.updated_at = now
        event = make_event(self._new_id("evt"), payment.to_dict(), now)
        self._add_event(event)
        with self._atomic():
            if self.store is not None:
                self.store.save_payment(payment.to_dict())
                self.store.save_event(event)
            self._enqueue_deliveries(event, now)
        return event

    def _add_event(self, event: dict) -> None:
        self._event_index[event["id"]] = len(self.events)
        self.events.append(event)
        payment = event["data"]["object"]
        self.changes.append(Change(payment["id"], payment["version"], payment["status"], event["created"],
                                   event["id"]))  # fmt: skip

    def settle_due(self, now: float) -> list[dict]:
        """Settle every payment whose time has come by ``now``; return the events this made."""
        events = []
        while self._settle_queue and self._settle_queue[0][0] <= now:
            due, _, payment_id, outcome = heapq.heappop(self._settle_queue)
            # stamped with its due time, however late the driver calls: the ground truth stays exact
            with self._atomic():
                events.append(self.update_status(payment_id, outcome, due))
                if self.store is not None:
                    self.store.remove_settlement(payment_id)
        return events

    # --- webhooks -----------------------------------------------------------------------
    def register_endpoint(self, url: str, *, secret: str | None = None) -> dict:
        """Register a webhook URL; every later event is delivered there, signed with its secret.

        The URL must be on this machine (:func:`~hooklab.core.contract.check_webhook_url`). The
        secret comes from :mod:`secrets` (never from the seed: whoever knows a seed must not be
        able to sign), unless one is given (a notebook that shows a fixed signature).
        """
        url = check_webhook_url(url)
        # hex is also base64, so the same form serves the Standard Webhooks scheme (whsec_<base64>)
        endpoint = Endpoint(self._new_id("we"), url, secret or "whsec_" + secrets.token_hex(24),
                            scheme=self.scheme.name)  # fmt: skip
        self.endpoints[endpoint.id] = endpoint
        self._queues[endpoint.id] = []
        self._in_flight[endpoint.id] = 0
        if self.store is not None:
            with self._atomic():
                self.store.save_endpoint(endpoint)
        return endpoint.to_dict()

    def delete_endpoint(self, endpoint_id: str) -> dict:
        """Forget an endpoint and every delivery to it (Stripe's ``DELETE /v1/webhook_endpoints/{id}``):
        what a receiver does when it goes away for good, or a restarted one that lost its secret."""
        endpoint = self.endpoint(endpoint_id)
        with self._atomic():
            del self.endpoints[endpoint_id]
            self._queues.pop(endpoint_id, None)
            self._in_flight.pop(endpoint_id, None)
            for delivery in [d for d in self.deliveries.values() if d.endpoint is endpoint]:
                self._forget_delivery(delivery)
            if self.store is not None:
                self.store.remove_endpoint(endpoint_id)
        return {"id": endpoint_id, "deleted": True}

    def list_endpoints(self) -> list[dict]:
        """Registered endpoints, oldest first, without their secrets (B shows a secret only once) and
        with any credentials in their URLs redacted; ``enabled`` false once B stopped trying one."""
        return [self._public(e) for e in self.endpoints.values()]

    @staticmethod
    def _public(e: Endpoint) -> dict:
        return {
            "id": e.id,
            "url": redact_url(e.url),
            "enabled": e.enabled,
            "disabled_reason": e.disabled_reason,
        }

    def endpoint(self, endpoint_id: str) -> Endpoint:
        endpoint = self.endpoints.get(endpoint_id)
        if endpoint is None:
            raise ApiError(404, "not_found", f"no webhook endpoint {endpoint_id!r}; "
                           "GET /webhook-endpoints lists them")  # fmt: skip
        return endpoint

    def _enqueue_deliveries(self, event: dict, now: float) -> None:
        if not self.endpoints:
            return
        body = self.scheme.encode(event)
        for endpoint in self.endpoints.values():
            self._new_delivery(endpoint, event["id"], body, now)

    def _new_delivery(self, endpoint: Endpoint, event_id: str, body: bytes, now: float,
                      redelivery_of: str | None = None, recovered: bool = False,
                      due_at: float | None = None) -> Delivery:  # fmt: skip
        due_at = now if due_at is None else due_at
        delivery = Delivery(self._new_id("dlv"), endpoint, event_id, body, due_at=due_at, created_at=now,
                            redelivery_of=redelivery_of, recovered=recovered)  # fmt: skip
        self.deliveries[delivery.id] = delivery
        if endpoint.enabled:
            heapq.heappush(self._queues[endpoint.id], (due_at, self._next_seq(), delivery.id))
        else:  # kept, so that a recovery can send it once the endpoint is back
            delivery.move("endpoint_disabled")
        if self.store is not None:
            self.store.save_delivery(delivery)
        return delivery

    def deliveries_due(self, now: float) -> list[Delivery]:
        """Deliveries whose (re)try is due at ``now``, at most ``max_in_flight`` per endpoint in
        flight and within its ``endpoint_rate``; they are in flight until reported back."""
        due = []
        limit = self.max_in_flight
        for endpoint_id, queue in self._queues.items():
            tokens = self._tokens_at(endpoint_id, now)
            while queue and queue[0][0] <= now:
                if limit is not None and self._in_flight[endpoint_id] >= limit:
                    break
                if tokens < 1 - _TOKEN_EPSILON:
                    break
                tokens -= 1
                _, _, delivery_id = heapq.heappop(queue)
                delivery = self.deliveries[delivery_id]
                delivery.move("due")
                self._in_flight[endpoint_id] += 1
                due.append(delivery)
            if self.endpoint_rate is not None:
                self._tokens[endpoint_id] = (tokens, now)
        return due

    def _tokens_at(self, endpoint_id: str, now: float) -> float:
        """Attempts an endpoint may still be sent at ``now`` (infinite without ``endpoint_rate``)."""
        if self.endpoint_rate is None:
            return math.inf
        n, seconds = self.endpoint_rate
        tokens, then = self._tokens.get(endpoint_id, (float(n), now))
        return min(float(n), tokens + (now - then) * n / seconds)

    def _next_token(self, endpoint_id: str, now: float) -> float:
        """When the endpoint may next be sent an attempt (now, or when its bucket has one again)."""
        tokens = self._tokens_at(endpoint_id, now)
        if tokens >= 1 - _TOKEN_EPSILON:
            return now
        n, seconds = self.endpoint_rate
        return now + (1 - tokens) * seconds / n

    def delivery_finished(
        self,
        delivery: Delivery,
        status: int | None,
        now: float,
        *,
        started_at: float | None = None,
        retry_after_s: float | None = None,
        error: str | None = None,
    ) -> None:
        """Report one attempt that ended at ``now``: any 2xx delivers it; ``410 Gone`` disables the
        endpoint; anything else (or ``None``, no answer) schedules a retry ``policy`` waits after
        ``now`` (longer if A asked so with ``Retry-After`` on a 429 or 503), or gives up when the
        schedule is used up. An endpoint failing for the policy's ``disable_after_s`` is disabled.

        Raises :class:`~hooklab.core.delivery.IllegalTransition` for a delivery not in flight.
        """
        endpoint = delivery.endpoint
        if endpoint.id not in self.endpoints:  # deleted while this attempt was out: nothing to keep
            self._in_flight.pop(endpoint.id, None)
            return
        ok = status is not None and 200 <= status < 300
        wait = None if ok else self.policy.wait_s(delivery.attempt + 1, self.jitter_rng, self.jitter)
        if ok:
            delivery.move("succeeded")
            delivery.delivered_at = now
        elif wait is None or status == 410 or not endpoint.enabled:
            delivery.move("gave_up")
        else:
            delivery.move("failed")
        delivery.attempt += 1
        delivery.last_status = status
        delivery.attempts.append(Attempt(delivery.attempt, now if started_at is None else started_at, now,
                                         status, error))  # fmt: skip
        self._in_flight[endpoint.id] -= 1
        with self._atomic():
            if delivery.state is DeliveryState.PENDING:
                if status in RETRY_AFTER_STATUSES and retry_after_s is not None:
                    wait = max(wait, retry_after_s)
                delivery.due_at = now + wait
                heapq.heappush(self._queues[endpoint.id], (delivery.due_at, self._next_seq(), delivery.id))
            if self.store is not None:
                self.store.save_delivery(delivery)
            self._endpoint_health(endpoint, ok, status, now)

    def _endpoint_health(self, endpoint: Endpoint, ok: bool, status: int | None, now: float) -> None:
        if ok:
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
                self._save_endpoint(endpoint)
            return
        if endpoint.failing_since is None:
            endpoint.failing_since = now
        limit = self.policy.disable_after_s
        if status == 410:
            self.disable_endpoint(endpoint.id, "the endpoint answered 410 Gone")
        elif endpoint.enabled and limit is not None and now - endpoint.failing_since >= limit:
            self.disable_endpoint(endpoint.id, f"failing for {now - endpoint.failing_since:.0f} s "
                                  f"(policy {self.policy.name}: {limit:g} s)")  # fmt: skip
        else:
            self._save_endpoint(endpoint)

    def _save_endpoint(self, endpoint: Endpoint) -> None:
        if self.store is not None:
            self.store.save_endpoint(endpoint)

    def disable_endpoint(self, endpoint_id: str, reason: str) -> None:
        """Stop trying an endpoint: its waiting deliveries fail, later events are kept as failed
        deliveries (a recovery sends them)."""
        endpoint = self.endpoint(endpoint_id)
        with self._atomic():
            endpoint.enabled = False
            endpoint.disabled_reason = reason
            queue = self._queues[endpoint_id]
            while queue:
                delivery = self.deliveries[heapq.heappop(queue)[2]]
                delivery.move("endpoint_disabled")
                if self.store is not None:
                    self.store.save_delivery(delivery)
            self._save_endpoint(endpoint)

    # --- recovery -----------------------------------------------------------------------
    def endpoint_deliveries(self, endpoint_id: str) -> list[dict]:
        """Every delivery to one endpoint, oldest first, with its attempts (GitHub and Svix show these)."""
        self.endpoint(endpoint_id)
        return [d.to_dict() for d in self.deliveries.values() if d.endpoint.id == endpoint_id]

    def deliveries_page(
        self, endpoint_id: str, after: str | None = None, limit: int = 100
    ) -> tuple[list[dict], bool]:
        """Up to ``limit`` of one endpoint's deliveries after delivery id ``after``, oldest first, and
        whether more follow (``has_more``): paged like ``GET /events``."""
        self.endpoint(endpoint_id)
        mine = [d for d in self.deliveries.values() if d.endpoint.id == endpoint_id]
        start = 0
        if after is not None:
            ids = [d.id for d in mine]
            if after not in ids:
                raise ApiError(404, "not_found", f"endpoint {endpoint_id} has no delivery {after!r}; "
                               "omit 'after' to start from the first")  # fmt: skip
            start = ids.index(after) + 1
        return [d.to_dict() for d in mine[start : start + limit]], start + limit < len(mine)

    def redeliver(self, delivery_id: str, now: float) -> dict:
        """Send a delivery's event again, as a new delivery now (GitHub's redelivery)."""
        old = self.deliveries.get(delivery_id)
        if old is None:
            raise ApiError(404, "not_found", f"no delivery {delivery_id!r}; "
                           "GET /webhook-endpoints/{id}/deliveries lists them")  # fmt: skip
        if not old.endpoint.enabled:
            raise ApiError(409, "endpoint_disabled",
                           f"endpoint {old.endpoint.id} is disabled ({old.endpoint.disabled_reason}); "
                           f"POST /webhook-endpoints/{old.endpoint.id}/recover enables it and re-sends "
                           "what failed")  # fmt: skip
        with self._atomic():
            delivery = self._new_delivery(old.endpoint, old.event_id, old.body, now, redelivery_of=old.id)
        return delivery.to_dict()

    def recover(self, endpoint_id: str, since: float, now: float) -> dict:
        """Enable the endpoint again and re-send every event whose delivery to it failed and was
        made at or after ``since`` (Svix's recovery); ``{"recovering": n}``.

        Idempotent in size: an event already queued (or delivered) is not queued again, and an
        event keeps at most one recovery delivery: a later recovery replaces the failed one, so
        recovering a dead endpoint over and over does not grow B."""
        endpoint = self.endpoint(endpoint_id)
        with self._atomic():
            endpoint.enabled, endpoint.disabled_reason, endpoint.failing_since = True, None, None
            self._save_endpoint(endpoint)
            mine = [d for d in self.deliveries.values() if d.endpoint is endpoint]
            settled_or_queued = {d.event_id for d in mine if d.state is not DeliveryState.FAILED}
            recovered = {d.event_id: d for d in mine if d.recovered}  # the last recovery of each event
            firsts: dict[str, Delivery] = {}
            for d in mine:
                if (
                    d.state is DeliveryState.FAILED
                    and not d.recovered
                    and d.event_id not in settled_or_queued
                ):
                    firsts.setdefault(d.event_id, d)
            for event_id, first in firsts.items():
                if first.created_at < since:
                    continue
                if event_id in recovered:  # replaced, not added to
                    self._forget_delivery(recovered[event_id])
                # spread over recovery_spread_s: a receiver just back up is not hit by all at once
                at = (
                    now + self.jitter_rng.uniform(0, self.recovery_spread_s)
                    if self.recovery_spread_s
                    else now
                )
                self._new_delivery(
                    endpoint, event_id, first.body, now, redelivery_of=first.id, recovered=True, due_at=at
                )
        return {"recovering": sum(1 for f in firsts.values() if f.created_at >= since),
                "endpoint": self._public(endpoint)}  # fmt: skip

    def _forget_delivery(self, delivery: Delivery) -> None:
        del self.deliveries[delivery.id]
        if self.store is not None:
            self.store.remove_delivery(delivery.id)

    def in_flight(self, endpoint_id: str) -> int:
        """Attempts to this endpoint handed out by :meth:`deliveries_due` and not reported back yet."""
        return self._in_flight.get(endpoint_id, 0)

    def next_wakeup(self, now: float | None = None) -> float | None:
        """When something is next due (a settlement or a delivery with room in its endpoint's
        flight and rate), or ``None`` if nothing is. With ``endpoint_rate``, pass ``now``: a due
        delivery waiting for its endpoint's rate wakes when the rate allows it."""
        times = [self._settle_queue[0][0]] if self._settle_queue else []
        limit = self.max_in_flight
        for endpoint_id, queue in self._queues.items():
            if queue and (limit is None or self._in_flight[endpoint_id] < limit):
                due = queue[0][0]
                if self.endpoint_rate is not None and now is not None:
                    due = max(due, self._next_token(endpoint_id, max(now, due)))
                times.append(due)
        return min(times) if times else None

    # --- reading ------------------------------------------------------------------------
    def list_events(self, after: str | None = None, limit: int = 100) -> list[dict]:
        """Events in creation order, those after event id ``after`` (a changes feed)."""
        return self.events_page(after, limit)[0]

    def events_page(self, after: str | None = None, limit: int = 100) -> tuple[list[dict], bool]:
        """Up to ``limit`` events after ``after``, and whether more follow (``has_more``)."""
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
        return self.events[start : start + limit], start + limit < len(self.events)

    def snapshot(self) -> dict[str, dict]:
        """Every payment as B knows it: ``{id: payment_dict}``."""
        return {pid: p.to_dict() for pid, p in self.payments.items()}

    def all_settled(self) -> bool:
        return all(p.status in FINAL_STATUSES for p in self.payments.values())

    # --- restart ------------------------------------------------------------------------
    def _restore(self, saved: dict) -> None:
        """Start from what the store kept: payments, events, endpoints, settlements still to come, and
        every delivery not finished (one in flight at the crash is sent again: at least once)."""
        for p in saved["payments"]:
            self.payments[p["id"]] = Payment(p["id"], p["amount"], p["currency"], p["status"], p["version"],
                                             p["created_at"], p["updated_at"])  # fmt: skip
        for event in saved["events"]:
            self._add_event(event)
        for endpoint in saved["endpoints"]:
            endpoint.scheme = self.scheme.name  # a B restarted with another --scheme signs in the new one
            self.endpoints[endpoint.id] = endpoint
            self._queues[endpoint.id] = []
            self._in_flight[endpoint.id] = 0
        for payment_id, due, outcome in saved["settlements"]:
            heapq.heappush(self._settle_queue, (due, self._next_seq(), payment_id, outcome))
        for row in saved["deliveries"]:
            delivery = Delivery(row["id"], self.endpoints[row["endpoint_id"]], row["event_id"], row["body"],
                                row["due_at"], row["attempt"], DeliveryState(row["state"]), row["last_status"],
                                row["delivered_at"], row["created_at"], row["redelivery_of"],
                                [Attempt(a["attempt"], a["started_at"], a["ended_at"], a["status"], a["error"]) for a in row["attempts"]],
                                row.get("recovered", False))  # fmt: skip
            if delivery.state is DeliveryState.IN_FLIGHT:
                delivery.state = DeliveryState.PENDING
            self.deliveries[delivery.id] = delivery
            if delivery.state is DeliveryState.PENDING:
                heapq.heappush(
                    self._queues[delivery.endpoint.id], (delivery.due_at, self._next_seq(), delivery.id)
                )
