"""One event on its way to one endpoint, as an explicit state machine.

States and what moves them, in one table (:data:`TRANSITIONS`)::

    pending --due--> in_flight --succeeded--> delivered
                      in_flight --failed-----> pending     (a retry is left in the schedule)
                      in_flight --gave_up----> failed      (the schedule is used up, or the
                                                            endpoint answered 410 Gone)
    pending --endpoint_disabled--> failed                  (B stopped trying this endpoint)

``delivered`` and ``failed`` are final. Anything not in the table (a finished delivery reported
again, a pending one reported before it was sent) raises :class:`IllegalTransition` instead of
quietly counting another attempt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from hooklab.core.schemes import SCHEMES


class DeliveryState(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DELIVERED = "delivered"
    FAILED = "failed"


#: (state, what happened) -> next state. The whole life of a delivery.
TRANSITIONS: dict[tuple[DeliveryState, str], DeliveryState] = {
    (DeliveryState.PENDING, "due"): DeliveryState.IN_FLIGHT,
    (DeliveryState.IN_FLIGHT, "succeeded"): DeliveryState.DELIVERED,
    (DeliveryState.IN_FLIGHT, "failed"): DeliveryState.PENDING,
    (DeliveryState.IN_FLIGHT, "gave_up"): DeliveryState.FAILED,
    (DeliveryState.PENDING, "endpoint_disabled"): DeliveryState.FAILED,
}
FINAL_STATES = frozenset({DeliveryState.DELIVERED, DeliveryState.FAILED})


class IllegalTransition(RuntimeError):
    """A delivery was told something that cannot happen in its state (a bug in the driver)."""


@dataclass
class Endpoint:
    """A registered webhook URL and its health: B stops trying one that keeps failing."""

    id: str
    url: str
    secret: str
    enabled: bool = True
    #: When the current run of failures began (None after a success).
    failing_since: float | None = None
    disabled_reason: str | None = None
    #: how B lays out, signs and heads its deliveries to this endpoint (:mod:`hooklab.core.schemes`)
    scheme: str = "hooklab"

    def to_dict(self) -> dict:
        return {"id": self.id, "url": self.url, "secret": self.secret}


@dataclass(frozen=True)
class Attempt:
    """One try of a delivery, as ``GET /webhook-endpoints/{id}/deliveries`` shows it."""

    number: int
    started_at: float
    ended_at: float
    status: int | None  # None: no answer (refused, reset, timed out)
    error: str | None = None

    def to_dict(self) -> dict:
        return {
            "attempt": self.number,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "status": self.status,
            "error": self.error,
        }


@dataclass
class Delivery:
    """One event for one endpoint; ``attempt`` counts the tries made so far."""

    id: str
    endpoint: Endpoint
    event_id: str
    body: bytes
    due_at: float
    attempt: int = 0
    state: DeliveryState = DeliveryState.PENDING
    last_status: int | None = None
    delivered_at: float | None = None
    created_at: float = 0.0
    #: The delivery this one re-sends (``POST /deliveries/{id}/redeliver``, ``.../recover``).
    redelivery_of: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    #: Made by a recovery (an event keeps one at most: the next recovery replaces it).
    recovered: bool = False

    def move(self, what: str) -> DeliveryState:
        """Apply one transition of :data:`TRANSITIONS`, or raise :class:`IllegalTransition`."""
        new = TRANSITIONS.get((self.state, what))
        if new is None:
            raise IllegalTransition(
                f"delivery {self.id} is {self.state.value}: '{what}' cannot happen now "
                f"(allowed: {sorted(w for s, w in TRANSITIONS if s is self.state) or 'nothing, it is final'})"
            )
        self.state = new
        return new

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "endpoint_id": self.endpoint.id,
            "event_id": self.event_id,
            "state": self.state.value,
            "created_at": self.created_at,
            "next_attempt_at": self.due_at if self.state is DeliveryState.PENDING else None,
            "delivered_at": self.delivered_at,
            "redelivery_of": self.redelivery_of,
            "attempts": [a.to_dict() for a in self.attempts],
        }

    def request(self, now: float) -> tuple[str, dict[str, str], bytes]:
        """URL, headers and body of the next attempt, signed at ``now`` (like Stripe, per try), in
        the endpoint's scheme."""
        headers = SCHEMES[self.endpoint.scheme].sign(
            self.body, self.endpoint.secret, now, event_id=self.event_id, delivery_id=self.id,
            attempt=self.attempt + 1,
        )  # fmt: skip
        return self.endpoint.url, headers, self.body
