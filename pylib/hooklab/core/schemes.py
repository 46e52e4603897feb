"""One receiver, four senders' formats: how a delivery is laid out, signed, verified and read.

A *scheme* is everything about a webhook that is the sender's convention rather than the event's
content: how the body's bytes are written, which headers carry the signature, the id and the time,
and what the event looks like. hooklab's A can receive, and B can send, in four of them:

=========  =========================================  ===========  ==========================
scheme     signature header(s)                        time signed  body as written
=========  =========================================  ===========  ==========================
hooklab    ``Hooklab-Signature: t=..,v1=<hex>``       yes          compact JSON, B's event
stripe     ``Stripe-Signature: t=..,v1=<hex>``        yes          JSON indented by 2 spaces
github     ``X-Hub-Signature-256: sha256=<hex>``      no           compact JSON
standard   ``webhook-id``/``-timestamp``/``-signature``  yes        compact JSON
=========  =========================================  ===========  ==========================

Stripe writes its deliveries indented, one key a line (its own libraries' test helpers sign
``JSON.stringify(payload, null, 2)``; every space is signed, as Stripe's staff remind people who
re-encode the body: https://github.com/stripe/stripe-php/issues/884). That layout is why a relay
that re-serialises JSON breaks Stripe's signatures but may leave a compact body byte for byte.

Which *event* shapes A understands does not depend on the scheme: B's own events
(``{"id", "type", "data": {"object": payment}}``) in every scheme, and Stripe's PaymentIntent
events (``payment_intent.succeeded``, ``.payment_failed``, ...), which :func:`shop_event` maps onto
A's payments. Events of other types are *ignored* (:data:`IGNORED`): a receiver answers 2xx to
what it does not handle, or the sender retries it for days. No I/O and no clock: the time is an
argument.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from hooklab.core.contract import ATTEMPT_HEADER, DELIVERY_HEADER, SIGNATURE_HEADER
from hooklab.core.signing import (
    GITHUB_SIGNATURE_HEADER,
    STANDARD_SIGNATURE_HEADER,
    STRIPE_SIGNATURE_HEADER,
    SignatureError,
    sign_github,
    sign_stripe,
    standard_headers,
    verify_github,
    verify_standard,
    verify_stripe,
)

__all__ = ["IGNORED", "SCHEMES", "Scheme", "header_value", "scheme", "shop_event", "signed_in"]

#: GitHub's delivery headers: the event's name and the delivery's GUID (kept by redeliveries).
GITHUB_EVENT_HEADER, GITHUB_DELIVERY_HEADER = "X-GitHub-Event", "X-GitHub-Delivery"


class _Ignored:
    def __repr__(self) -> str:
        return "IGNORED"


#: What :func:`shop_event` returns for an event of a type A does not handle (not ``None``: a body
#: may be JSON ``null``).
IGNORED = _Ignored()


def _compact(event: dict) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def _indented(event: dict) -> bytes:
    return json.dumps(event, indent=2).encode()


@dataclass(frozen=True)
class Scheme:
    """One sender's convention. ``header`` names the header a refusal tells the sender to fix."""

    name: str
    header: str
    #: whether the signature covers a timestamp (a replay window); GitHub's does not
    signs_time: bool

    def encode(self, event: dict) -> bytes:
        """The bytes a sender of this scheme writes (and signs) for ``event``."""
        return _indented(event) if self.name == "stripe" else _compact(event)

    def sign(self, body: bytes, secret: str, now: float, *, event_id: str, delivery_id: str,
             attempt: int = 1) -> dict[str, str]:  # fmt: skip
        """The headers of one delivery of ``body`` at ``now`` (signed at each attempt, as Stripe does)."""
        headers = {"Content-Type": "application/json"}
        if self.name in ("hooklab", "stripe"):
            headers[self.header] = sign_stripe(body, secret, int(now))
        elif self.name == "github":
            headers[self.header] = sign_github(body, secret)
            headers[GITHUB_EVENT_HEADER] = "payment"
            headers[GITHUB_DELIVERY_HEADER] = delivery_id
        else:  # standard: the id is the event's, the same at every attempt (the receiver's key)
            headers.update(standard_headers(event_id, int(now), body, secret))
        if self.name == "hooklab":
            headers[DELIVERY_HEADER] = delivery_id
            headers[ATTEMPT_HEADER] = str(attempt)
        return headers

    def check_secret(self, secret: str) -> None:
        """Raise ``ValueError`` if this scheme cannot sign with ``secret`` (a Standard Webhooks secret
        is ``whsec_`` + base64): a setting to refuse at start-up, not on every delivery."""
        try:
            self.sign(b"", secret, 0, event_id="evt_check", delivery_id="dlv_check")
        except (TypeError, ValueError) as err:
            raise ValueError(f"this secret cannot be used in the {self.name} scheme: {err}") from None

    def verify(self, body: bytes, headers: Mapping[str, str], secrets: list[str], *,
               tolerance: float, now: float) -> None:  # fmt: skip
        """Raise :class:`~hooklab.core.signing.SignatureError` unless ``body`` is signed by one of
        ``secrets`` in this scheme (and, where the time is signed, within ``tolerance`` of ``now``)."""
        if self.name == "standard":
            verify_standard(body, headers, secrets, tolerance=tolerance, now=now)
            return
        value = header_value(headers, self.header)
        if self.name == "github":
            verify_github(body, value, secrets)
            return
        try:
            verify_stripe(body, value, secrets, tolerance=tolerance, now=now)
        except SignatureError as err:  # same format under hooklab's own name: name the header to fix
            if self.name == "stripe":
                raise
            raise SignatureError(
                err.reason, str(err).replace(STRIPE_SIGNATURE_HEADER, self.header), "hooklab"
            ) from None


#: Every scheme by name, in the order the CLI lists them.
SCHEMES: dict[str, Scheme] = {
    s.name: s
    for s in (
        Scheme("hooklab", SIGNATURE_HEADER, signs_time=True),
        Scheme("stripe", STRIPE_SIGNATURE_HEADER, signs_time=True),
        Scheme("github", GITHUB_SIGNATURE_HEADER, signs_time=False),
        Scheme("standard", STANDARD_SIGNATURE_HEADER, signs_time=True),
    )
}


def scheme(name: str) -> Scheme:
    """The scheme called ``name``, or ``ValueError`` listing the ones there are."""
    try:
        return SCHEMES[name]
    except KeyError:
        raise ValueError(f"scheme must be one of {list(SCHEMES)}, got {name!r}") from None


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """``headers[name]``, matched case-insensitively (a plain ``dict`` keeps the sender's case)."""
    value = headers.get(name)
    if value is None:
        lower = name.lower()
        value = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == lower), None)
    return value


def signed_in(headers: Mapping[str, str]) -> list[str]:
    """The schemes whose signature header a request carries (to tell a sender in the wrong format)."""
    return [name for name, s in SCHEMES.items() if header_value(headers, s.header) is not None]


# --- Stripe's PaymentIntent events onto A's payments --------------------------------------------
#: A PaymentIntent event's type -> the payment status A records. A failed attempt leaves Stripe's
#: PaymentIntent open for another card (status ``requires_payment_method``); the shop treats the
#: checkout as failed, as B's ``payment.failed`` does.
STRIPE_TYPES = {
    "payment_intent.created": "pending",
    "payment_intent.processing": "processing",
    "payment_intent.requires_action": "requires_action",
    "payment_intent.succeeded": "succeeded",
    "payment_intent.payment_failed": "failed",
    "payment_intent.canceled": "failed",
}
#: Stripe's objects carry no version, and Stripe does not promise to deliver in order
#: (https://docs.stripe.com/webhooks#event-ordering): A ranks the statuses instead, so a late
#: ``processing`` cannot undo ``succeeded``. Two final events for one payment: the first stays.
STRIPE_RANK = {"pending": 1, "processing": 2, "requires_action": 2, "succeeded": 3, "failed": 3}


def shop_event(event: object) -> object:
    """The event in B's shape, for :func:`~hooklab.core.contract.validate_event` to check.

    B's own events pass through as they are. A Stripe event (``"object": "event"``) about a
    PaymentIntent becomes ``{"id": evt, "type": "payment.<status>", "created", "data": {"object":
    {"id": pi, "status", "version", "amount", "currency", ...}}}``; a Stripe event of any other type
    is :data:`IGNORED`. Anything else is returned unchanged (the validator says what is wrong).
    """
    if not (isinstance(event, dict) and event.get("object") == "event"):
        return event
    status = STRIPE_TYPES.get(event.get("type"))  # type: ignore[arg-type]
    if status is None:
        return IGNORED
    data = event.get("data")
    intent = data.get("object") if isinstance(data, dict) else None
    if not isinstance(intent, dict):
        return {**event, "data": None}  # refused by the validator, with its message
    payment = {"id": intent.get("id"), "status": status, "version": STRIPE_RANK[status]}
    for field, value in (("amount", intent.get("amount")), ("currency", intent.get("currency")),
                         ("created_at", intent.get("created")), ("updated_at", event.get("created"))):  # fmt: skip
        if value is not None:
            payment[field] = value
    return {"id": event.get("id"), "type": f"payment.{status}", "created": event.get("created"),
            "data": {"object": payment}}  # fmt: skip
