"""Request bodies of both systems' HTTP APIs, as pydantic models (what ``/docs`` shows).

Strict on purpose: ``"amount": "12"`` is an error, not 12, and an unknown field is refused, so a
typo in a field name never passes silently. The limits come from :mod:`hooklab.core.contract`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from hooklab.core.contract import MAX_AMOUNT, WEBHOOK_PATH


class PaymentRequest(BaseModel):
    """``POST /payments`` at B, and ``POST /orders`` at A (which forwards it to B)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"amount": 1999, "currency": "eur"}]}
    )

    amount: StrictInt = Field(
        gt=0, le=MAX_AMOUNT,
        description=f"an integer number of minor units (cents), between 1 and {MAX_AMOUNT}",
    )  # fmt: skip
    currency: StrictStr = Field(
        pattern="^[A-Za-z]{3}$", description="a 3-letter ISO code such as 'eur' (any case; stored lowercase)"
    )

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
