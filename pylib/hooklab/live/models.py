"""Request bodies of both systems' HTTP APIs, as pydantic models (what ``/docs`` shows).

Strict on purpose: ``"amount": "12"`` is an error, not 12 (``1999.0`` is 1999: JSON has numbers,
not ints), and an unknown field is refused, so a typo in a field name never passes silently. The limits come from :mod:`hooklab.core.contract`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from hooklab.core.contract import MAX_AMOUNT, WEBHOOK_PATH


class PaymentRequest(BaseModel):
    """``POST /payments`` at B, and ``POST /orders`` at A (which forwards it to B)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"amount": 1999, "currency": "eur"}]}
    )

    amount: int = Field(
        gt=0, le=MAX_AMOUNT,
        description=f"an integer number of minor units (cents), between 1 and {MAX_AMOUNT}",
    )  # fmt: skip
    currency: StrictStr = Field(
        pattern="^[A-Za-z]{3}$", description="a 3-letter ISO code such as 'eur' (any case; stored lowercase)"
    )

    @field_validator("amount", mode="before")
    @classmethod
    def _whole_number(cls, value: object) -> int:
        # JSON has numbers, not ints: 1999.0 is 1999, but 19.99, "1999" and true are not amounts
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("not a number")
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("not a whole number")
        return int(value)

    @field_validator("currency")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class EndpointRequest(BaseModel):
    """``POST /webhook-endpoints`` at B: where to deliver events."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"url": "http://127.0.0.1:8001" + WEBHOOK_PATH}]},
    )

    url: StrictStr = Field(
        description="an absolute http(s) URL on this machine, e.g. http://127.0.0.1:8001" + WEBHOOK_PATH
    )


# --- what the systems answer (documented in /openapi.json; the routes return plain dicts) -------
class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="machine-readable: malformed_json, invalid_amount, not_found, ...")
    message: str = Field(description="what was wrong and what to do instead")


class ErrorBody(BaseModel):
    """Every error either system answers, whatever its status."""

    error: ErrorDetail


class Payment(BaseModel):
    id: str
    status: str = Field(description="pending, then succeeded or failed")
    amount: int
    currency: str
    version: int = Field(description="grows by one with every change")
    created_at: float
    updated_at: float


class PaymentList(BaseModel):
    data: list[Payment]


class Endpoint(BaseModel):
    id: str
    url: str
    secret: str = Field(description="the signing secret: shown here only, keep it")


class EndpointView(BaseModel):
    id: str
    url: str = Field(description="credentials, if the URL has any, are shown as ***")
    enabled: bool = Field(description="false once B stopped trying it (410 Gone, or failing too long)")
    disabled_reason: str | None = Field(description="why B disabled it; null while enabled")


class EndpointList(BaseModel):
    data: list[EndpointView]


class EventData(BaseModel):
    object: Payment


class Event(BaseModel):
    id: str
    type: str
    created: float
    data: EventData


class EventList(BaseModel):
    data: list[Event]
    has_more: bool = Field(description="true: more events follow; ask again with after=<the last id>")


class AttemptView(BaseModel):
    attempt: int
    started_at: float
    ended_at: float
    status: int | None = Field(description="A's HTTP status; null: no answer (refused, reset, timed out)")
    error: str | None


class DeliveryView(BaseModel):
    id: str
    endpoint_id: str
    event_id: str
    state: str = Field(description="pending, in_flight, delivered or failed")
    created_at: float
    next_attempt_at: float | None
    delivered_at: float | None
    redelivery_of: str | None = Field(description="the delivery this one re-sends, if any")
    attempts: list[AttemptView]


class DeliveryList(BaseModel):
    data: list[DeliveryView]
    has_more: bool = Field(description="true: more deliveries follow; ask again with after=<the last id>")


class RecoverRequest(BaseModel):
    """``POST /webhook-endpoints/{id}/recover``: re-send what failed since a moment."""

    model_config = ConfigDict(extra="forbid")
    # strict: true, "0" and 1e400 (infinity) are not moments
    since: float = Field(
        ge=0, strict=True, allow_inf_nan=False,
        description="Unix seconds (a number): failed deliveries made at or after this are re-sent",
    )  # fmt: skip


class EndpointDeleted(BaseModel):
    """``DELETE /webhook-endpoints/{id}``: the endpoint and its deliveries are gone."""

    id: str
    deleted: bool


class RecoverAnswer(BaseModel):
    recovering: int = Field(description="how many events are being sent again")
    endpoint: EndpointView


class Fulfilment(BaseModel):
    payment_id: str
    fulfilled_at: float = Field(description="Unix seconds: when A shipped the order")


class FulfilmentList(BaseModel):
    data: list[Fulfilment]


class Traffic(BaseModel):
    requests: int = Field(description="requests B served and webhook attempts it sent, so far")
    bytes: int = Field(description="their bytes, request and answer")


class Health(BaseModel):
    ok: bool
    system: str
    traffic: Traffic | None = Field(default=None, description="System B only: what it has served and sent")
    mode: str | None = Field(
        default=None,
        description="System A only: how it learns (poll, webhook, conditional, feed, long-poll, sse, adaptive)",
    )


class WebhookAnswer(BaseModel):
    received: bool
    duplicate: bool = Field(description="true: A had this event already and did nothing")
    event: str
    ignored: str | None = Field(
        default=None,
        description="an authentic event of a type A does not handle (this type): nothing was stored",
    )
