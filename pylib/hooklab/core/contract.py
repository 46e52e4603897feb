"""What System A and System B agree on: paths, header names, statuses, limits, the event shape.

Everything that crosses the wire between the two systems is named here once. B's core, A's core,
the HTTP apps, the clients and the simulation all read it from this module, so neither system's
core imports the other's.

An event, as B sends it and A's endpoint accepts it::

    {"id": "evt_...", "type": "payment.succeeded", "created": <unix seconds>,
     "data": {"object": {"id": "pay_...", "status": "succeeded", "version": 2, ...}}}

``version`` grows by one with every change of a payment; A keeps the highest it has seen.
"""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import urlsplit

from hooklab.core.errors import ApiError

# --- paths ---------------------------------------------------------------------------------
PAYMENTS_PATH = "/payments"
PAYMENT_PATH = "/payments/{payment_id}"
WEBHOOK_ENDPOINTS_PATH = "/webhook-endpoints"
EVENTS_PATH = "/events"
HEALTH_PATH = "/health"
#: Where A receives B's webhooks (the URL A registers ends with it).
WEBHOOK_PATH = "/webhooks/payments"
#: A's own checkout: A asks B for a payment.
ORDERS_PATH = "/orders"

# --- headers -------------------------------------------------------------------------------
#: B's Stripe-style signature on every delivery: ``t=<unix>,v1=<hex>``.
SIGNATURE_HEADER = "Hooklab-Signature"
#: B's id of one delivery (the same on every attempt of it).
DELIVERY_HEADER = "Hooklab-Delivery"
#: Which attempt of the delivery this is (1 = the first).
ATTEMPT_HEADER = "Hooklab-Attempt"
#: Our clients name themselves here, so the receiver's request log knows who called. A label,
#: not a credential: anyone can set it to anything.
SENDER_HEADER = "Hooklab-Sender"

# --- statuses and limits -------------------------------------------------------------------
#: A payment in one of these never changes again.
FINAL_STATUSES = frozenset({"succeeded", "failed"})
#: Bodies larger than this are refused with 413 before they are parsed (both systems).
MAX_BODY_BYTES = 64 * 1024
#: The largest payment amount, in minor units.
MAX_AMOUNT = 10**12
#: Allowed fields of ``POST /payments`` (and A's ``POST /orders``).
PAYMENT_FIELDS = ("amount", "currency")


def event_type(status: str) -> str:
    """The event type B emits when a payment reaches ``status``: ``payment.<status>``."""
    return f"payment.{status}"


def encode_event(event: dict) -> bytes:
    """The exact bytes B sends (and signs) for an event: compact JSON."""
    return json.dumps(event, separators=(",", ":")).encode()


def validate_event(event: object) -> dict:
    """Check an event's shape: ``{"id": "evt_...", "type", "data": {"object": <payment>}}``."""
    payment = event.get("data", {}).get("object") if isinstance(event, dict) else None
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(payment, dict)
        and isinstance(payment.get("id"), str)
        and isinstance(payment.get("status"), str)
        and isinstance(payment.get("version"), int)
    ):
        raise ApiError(
            422, "invalid_event",
            'event must look like {"id": "evt_...", "type": "payment.succeeded", '
            '"data": {"object": {"id": ..., "status": ..., "version": <int>, ...}}}',
        )  # fmt: skip
    return event


def check_amount(amount: object) -> int:
    """An amount in minor units (an int, 1..MAX_AMOUNT), or :class:`ApiError` 422."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ApiError(
            422,
            "invalid_amount",
            f"'amount' must be an integer number of minor units (cents), got {amount!r}",
        )
    if not 0 < amount <= MAX_AMOUNT:
        raise ApiError(422, "invalid_amount", f"'amount' must be between 1 and {MAX_AMOUNT}, got {amount}")
    return amount


def check_currency(currency: object) -> str:
    """A 3-letter ISO currency code, lowercased, or :class:`ApiError` 422."""
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
    return currency.lower()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_webhook_url(url: object) -> str:
    """An absolute http(s) URL on this machine (B only delivers to loopback), or :class:`ApiError` 422."""
    if not isinstance(url, str):
        raise ApiError(422, "invalid_url", f"'url' must be a string, got {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(422, "invalid_url", f"'url' must be an absolute http(s) URL, got {url!r}")
    if not _is_loopback(parts.hostname):
        raise ApiError(
            422, "url_not_loopback",
            f"hooklab only delivers to this machine: use 127.0.0.1, localhost or [::1], not {parts.hostname!r}",
        )  # fmt: skip
    return url
