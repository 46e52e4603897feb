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
import math
import re
from urllib.parse import urlsplit

from hooklab.core.errors import ApiError

# --- paths ---------------------------------------------------------------------------------
PAYMENTS_PATH = "/payments"
PAYMENT_PATH = "/payments/{payment_id}"
WEBHOOK_ENDPOINTS_PATH = "/webhook-endpoints"
WEBHOOK_ENDPOINT_PATH = "/webhook-endpoints/{endpoint_id}"
EVENTS_PATH = "/events"
#: The same events as Server-Sent Events, pushed over a connection the client opens.
EVENTS_STREAM_PATH = "/events/stream"
#: B's recovery API: one endpoint's deliveries and their attempts; re-send one; re-send what failed.
DELIVERIES_PATH = "/webhook-endpoints/{endpoint_id}/deliveries"
REDELIVER_PATH = "/deliveries/{delivery_id}/redeliver"
RECOVER_PATH = "/webhook-endpoints/{endpoint_id}/recover"
HEALTH_PATH = "/health"
#: Where A receives B's webhooks (the URL A registers ends with it).
WEBHOOK_PATH = "/webhooks/payments"
#: A's own checkout: A asks B for a payment.
ORDERS_PATH = "/orders"
#: The orders A shipped: one per succeeded payment.
FULFILMENTS_PATH = "/fulfilments"

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
#: Every status a payment can have (the simulation's changing records cycle through the others).
PAYMENT_STATUSES = frozenset({"pending", "processing", "requires_action", *FINAL_STATUSES})
#: What an id (of a payment, an event, a delivery) may look like: what B issues, and no more.
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: The largest version A accepts: versions count changes; 2**53 keeps them exact in any JSON reader.
MAX_VERSION = 2**53
#: The longest webhook URL B accepts.
MAX_URL_LENGTH = 2048
#: Bodies larger than this are refused with 413 before they are parsed (both systems).
MAX_BODY_BYTES = 64 * 1024
#: The largest payment amount, in minor units.
MAX_AMOUNT = 10**12
#: Allowed fields of ``POST /payments`` (and A's ``POST /orders``).
PAYMENT_FIELDS = ("amount", "currency")


def payment_etag(payment: dict) -> str:
    """The strong ``ETag`` of a payment's representation: its id and version (a payment changes
    only with a new version), e.g. ``"pay_1f-v3"``."""
    return f'"{payment["id"]}-v{payment["version"]}"'


def events_etag(after: str | None, limit: int, page: list[dict], has_more: bool) -> str:
    """The ``ETag`` of one page of ``GET /events``: what identifies it (the cursor, the limit, the
    ids it holds and whether more follow), hashed short."""
    import hashlib

    ids = ",".join(e["id"] for e in page)
    digest = hashlib.sha256(f"{after}|{limit}|{ids}|{has_more}".encode()).hexdigest()[:20]
    return f'"ev-{digest}"'


def none_match(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match: header`` matches ``etag`` (RFC 9110 13.1.2: ``*``, or any listed tag
    under weak comparison, so ``W/"x"`` matches ``"x"``): then the answer is ``304``."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in header.split(","))


def event_type(status: str) -> str:
    """The event type B emits when a payment reaches ``status``: ``payment.<status>``."""
    return f"payment.{status}"


def encode_event(event: dict) -> bytes:
    """The exact bytes B sends (and signs) for an event: compact JSON."""
    return json.dumps(event, separators=(",", ":")).encode()


def parse_json(body: bytes) -> object:
    """``body`` as JSON, or :class:`ApiError` 400: not UTF-8, not JSON, nested too deeply, or a
    number too long to convert (Python refuses integers over 4,300 digits)."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ApiError(400, "malformed_json", "body is nested too deeply to be a webhook event") from None
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError, the int digits limit
        raise ApiError(400, "malformed_json", f"body is not valid JSON: {err}") from None


def _invalid_event(what: str) -> ApiError:
    return ApiError(
        422, "invalid_event",
        f"{what}; an event looks like {{\"id\": \"evt_...\", \"type\": \"payment.succeeded\", "
        f"\"data\": {{\"object\": {{\"id\": \"pay_...\", \"status\": ..., \"version\": <int>, ...}}}}}}",
    )  # fmt: skip


def _is_id(value: object) -> bool:
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def _is_time(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate_event(event: object) -> dict:
    """Check everything an event carries, and return it with the payment reduced to the contract's
    fields; or raise :class:`ApiError` 422. A valid signature says who sent a body, not that it is
    well-formed: what A stores and serves again must be what the contract allows.
    """
    if not isinstance(event, dict):
        raise _invalid_event("the body is not a JSON object")
    if not _is_id(event.get("id")):
        raise _invalid_event("'id' must be an id of letters, digits, '_' and '-' (at most 64)")
    if not isinstance(event.get("type"), str) or not event["type"].isascii() or len(event["type"]) > 64:
        raise _invalid_event("'type' must be a short ASCII string such as 'payment.succeeded'")
    data = event.get("data")
    payment = data.get("object") if isinstance(data, dict) else None
    if not isinstance(payment, dict):
        raise _invalid_event("'data' must be an object holding the payment as 'object'")
    if not _is_id(payment.get("id")):
        raise _invalid_event("the payment's 'id' must be an id of letters, digits, '_' and '-' (at most 64)")
    if payment.get("status") not in PAYMENT_STATUSES:
        raise _invalid_event(f"the payment's 'status' must be one of {sorted(PAYMENT_STATUSES)}")
    version = payment.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
        raise _invalid_event(f"the payment's 'version' must be an integer from 1 to {MAX_VERSION}")
    checked = {"id": payment["id"], "status": payment["status"], "version": version}
    for field, ok in (("amount", lambda v: not isinstance(v, bool) and isinstance(v, int) and 0 < v <= MAX_AMOUNT),
                      ("currency", lambda v: isinstance(v, str) and len(v) == 3 and v.isascii() and v.isalpha()),
                      ("created_at", _is_time), ("updated_at", _is_time)):  # fmt: skip
        if field in payment:
            if not ok(payment[field]):
                raise _invalid_event(f"the payment's '{field}' is not a valid {field}")
            checked[field] = payment[field]
    return {**event, "data": {"object": checked}}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_webhook_url(url: object) -> str:
    """A URL B can connect to on this machine, or :class:`ApiError` 422.

    One parser decides (the standard library's ``urllib.parse``), on text it can parse
    unambiguously: printable ASCII without spaces (no lone surrogates, no tabs or newlines, no
    look-alike characters that normalise to ``/`` or ``@``), at most :data:`MAX_URL_LENGTH`
    characters, ``http`` or ``https``, a loopback host, and a port from 1 to 65535 if one is given.
    """
    if not isinstance(url, str):
        raise ApiError(422, "invalid_url", f"'url' must be a string, got {type(url).__name__}")
    if not (url.isascii() and url.isprintable()) or " " in url or len(url) > MAX_URL_LENGTH:
        raise ApiError(
            422, "invalid_url",
            f"'url' must be printable ASCII without spaces, at most {MAX_URL_LENGTH} characters "
            "(percent-encode anything else), e.g. http://127.0.0.1:8001" + WEBHOOK_PATH,
        )  # fmt: skip
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as err:
        raise ApiError(422, "invalid_url", f"'url' cannot be parsed as a URL: {err}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ApiError(422, "invalid_url", f"'url' must be an absolute http(s) URL, got {url!r}")
    if port == 0:
        raise ApiError(
            422, "invalid_url", "'url' has port 0, which nothing listens on: give the port A serves on"
        )
    if not _is_loopback(host):
        raise ApiError(
            422, "url_not_loopback",
            f"hooklab only delivers to this machine: use 127.0.0.1, localhost or [::1], not {host!r}",
        )  # fmt: skip
    return url


def webhook_url(url: str) -> str:
    """The URL B should deliver to, from what A was given: a base URL (no path, or ``/``) gets A's
    webhook path; a URL with a path is kept as given (a proxy or tunnel maps it to A)."""
    url = url.strip()
    path = urlsplit(url).path
    return url.rstrip("/") + WEBHOOK_PATH if path in ("", "/") else url


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``: what a listing may show."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()
