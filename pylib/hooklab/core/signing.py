"""Sign and verify webhook deliveries: Stripe, Standard Webhooks and GitHub schemes.


A webhook endpoint is a public URL: anybody can POST to it. The sender therefore attaches an
HMAC-SHA256 signature, computed with a secret shared only with the receiver, over the *raw* request
body (plus, in two of the three schemes, a timestamp, so that a captured request cannot be replayed
later). The receiver recomputes the HMAC and compares in constant time. Three real-world schemes:

**Stripe** (``Stripe-Signature`` header; System B of this project uses the same format under the
name ``Hooklab-Signature``)::

    t=1614265330,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

``v1`` is ``hex(HMAC-SHA256(key=secret.encode("utf-8"), msg=b"<t>." + body))``. The *whole* secret
string, ``whsec_`` prefix included, is the key. During a secret roll on the sender's side the
header carries several ``v1=`` entries; any one may match. ``v0=`` entries (a legacy test-mode
scheme) and unknown keys are ignored. :func:`sign_stripe`, :func:`verify_stripe`.

**Standard Webhooks** (https://www.standardwebhooks.com, used by Svix, Resend, Supabase, ...)::

    webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek
    webhook-timestamp: 1614265330
    webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=

The secret is ``whsec_`` + base64; the HMAC key is the base64-*decoded* bytes. The signature is
``base64(HMAC-SHA256(key, f"{id}.{timestamp}.".encode() + body))``; the header is a space-separated
list of ``<version>,<signature>`` entries (``v1`` = HMAC-SHA256, ``v1a`` = ed25519, which is
ignored here). :func:`sign_standard`, :func:`standard_headers`, :func:`verify_standard`.

**GitHub** (``X-Hub-Signature-256`` header)::

    sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17

``hex(HMAC-SHA256(secret.encode("utf-8"), body))``. No timestamp, so no replay window: de-duplicate
on the ``X-GitHub-Delivery`` id instead. :func:`sign_github`, :func:`verify_github`.

Errors
------
Every verify function raises exactly one exception type, :class:`SignatureError` (a
``ValueError``), whatever the request contains: any payload, any header value or type, any secret.
Its ``.reason`` is one of :data:`REASONS` and its message says what to check next. Map it to HTTP
400 and log ``.reason``. The only other exceptions are configuration errors of the *caller*
(a ``tolerance`` that is not ``None`` or a positive number raises ``ValueError``; a ``now`` that is
not a number raises ``TypeError``); they do not depend on the request and show on the first call.

Choices this module makes (each is tested in ``tests/test_signing*.py``):

- **Raw bytes.** ``payload`` should be the request body exactly as received (``bytes``). ``str`` is
  accepted and encoded as UTF-8. Anything else is ``malformed_payload``. Re-serialised JSON fails.
- **Tolerance in both directions.** A timestamp more than ``tolerance`` seconds in the past is
  ``timestamp_too_old``; more than ``tolerance`` seconds in the *future* is ``timestamp_too_new``.
  Stripe's own Python library only checks the past; we are deliberately stricter, like the Standard
  Webhooks libraries. The bounds are inclusive: ``now - tolerance <= t <= now + tolerance`` passes.
- **tolerance must be > 0, or ``None``.** ``tolerance=None`` switches the time check off (to
  re-verify a stored delivery). ``tolerance=0`` is rejected with ``ValueError`` rather than silently
  meaning "no check" (as it does in Stripe's library) or "only this exact second".
- **Signature first, then time.** ``timestamp_too_old``/``_too_new`` therefore means "authentic but
  outside the window": a replay, a long-delayed retry, or a skewed clock.
- **Timestamps are plain ASCII digits** (at most 18). ``t= 123``, ``+123``, ``1.5e9`` are
  ``malformed_header`` (the reference libraries accept some of these; see
  ``tests/test_signing_differential.py`` for the full list of divergences). The signed text uses
  the decimal value, so ``t=0123`` is checked against a signature over ``123.`` as the reference
  libraries do.
- **Secret rotation on the receiver's side.** Every ``secret`` argument of a verify function may be
  a ``list`` or ``tuple`` of secrets: the delivery is accepted if any of them matches. An empty list
  is ``missing_secret``. ``bytes`` are accepted as an already-encoded key (Stripe, GitHub) or as
  the raw decoded key (Standard Webhooks, as the reference library does).
- **Standard Webhooks secrets**: the ``whsec_`` prefix is optional (as in the reference libraries);
  the rest must be standard base64 (padding optional); trailing whitespace (a newline from a
  secrets file) is ignored; anything else is ``malformed_secret``. Header names are matched
  case-insensitively. A header present twice with different values is ``malformed_header``.
- **svix- names: a whole family, never mixed.** The ``svix-id``/``svix-timestamp``/
  ``svix-signature`` family is read when the ``webhook-`` family is incomplete; the two families
  are never mixed, and a complete ``webhook-`` family wins. The ``svix`` library (2.x) instead
  takes each header from ``svix-*`` whenever that one is present and from ``webhook-*`` otherwise,
  so where the families differ or are mixed its verdict can differ from ours
  (``tests/test_signing_differential.py`` runs both on such headers). ``standardwebhooks`` reads
  only ``webhook-*``.
- **Exact signature text.** Signatures are compared as text with the canonical encoding the sender
  produces: lowercase hex (Stripe, GitHub), standard padded base64 (Standard Webhooks). Header
  items are not trimmed (``t=1, v1=...`` does not find ``v1``), as in the reference libraries.
"""

from __future__ import annotations

import binascii
import hmac
import math
import time
from collections.abc import Mapping, Sequence

__all__ = [
    "DEFAULT_TOLERANCE",
    "GITHUB_SIGNATURE_HEADER",
    "MALFORMED_HEADER",
    "MALFORMED_PAYLOAD",
    "MALFORMED_SECRET",
    "MISSING_HEADER",
    "MISSING_SECRET",
    "NO_SIGNATURE_FOR_SCHEME",
    "REASONS",
    "SIGNATURE_MISMATCH",
    "STANDARD_ID_HEADER",
    "STANDARD_SIGNATURE_HEADER",
    "STANDARD_TIMESTAMP_HEADER",
    "STRIPE_SIGNATURE_HEADER",
    "TIMESTAMP_TOO_NEW",
    "TIMESTAMP_TOO_OLD",
    "SignatureError",
    "sign_github",
    "sign_standard",
    "sign_stripe",
    "standard_headers",
    "verify_github",
    "verify_standard",
    "verify_stripe",
]

#: Seconds a signed timestamp may differ from ``now`` (either way) by default: Stripe's and the
#: Standard Webhooks libraries' five minutes.
DEFAULT_TOLERANCE = 300

STRIPE_SIGNATURE_HEADER = "Stripe-Signature"
GITHUB_SIGNATURE_HEADER = "X-Hub-Signature-256"
STANDARD_ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"

# --- reasons --------------------------------------------------------------------------------------
#: The signature header is absent (``None``) or empty.
MISSING_HEADER = "missing_header"
#: The header is there but is not of the scheme's form (wrong type, no timestamp, bad timestamp,
#: unparsable entry, header given twice with different values).
MALFORMED_HEADER = "malformed_header"
#: The header parses but has no entry of the scheme we check (``v1``; ``sha256`` for GitHub).
NO_SIGNATURE_FOR_SCHEME = "no_signature_for_scheme"
#: No signature in the header matches the body under any of the secrets.
SIGNATURE_MISMATCH = "signature_mismatch"
#: Authentic, but signed more than ``tolerance`` seconds before ``now``.
TIMESTAMP_TOO_OLD = "timestamp_too_old"
#: Authentic, but signed more than ``tolerance`` seconds after ``now``.
TIMESTAMP_TOO_NEW = "timestamp_too_new"
#: No secret was given (``None``, empty or blank string, empty list).
MISSING_SECRET = "missing_secret"
#: The secret cannot be used: wrong type, not encodable, or (Standard Webhooks) not base64.
MALFORMED_SECRET = "malformed_secret"
#: The payload is not ``bytes``/``bytearray``/``memoryview``/``str`` (or a ``str`` that is not
#: encodable as UTF-8).
MALFORMED_PAYLOAD = "malformed_payload"

#: Every value :attr:`SignatureError.reason` can take.
REASONS = frozenset(
    {
        MISSING_HEADER,
        MALFORMED_HEADER,
        NO_SIGNATURE_FOR_SCHEME,
        SIGNATURE_MISMATCH,
        TIMESTAMP_TOO_OLD,
        TIMESTAMP_TOO_NEW,
        MISSING_SECRET,
        MALFORMED_SECRET,
        MALFORMED_PAYLOAD,
    }
)


class SignatureError(ValueError):
    """A webhook delivery failed verification.

    ``reason`` is one of :data:`REASONS` (stable, machine-readable: log it, count it, branch on
    it); ``scheme`` is ``"stripe"``, ``"standard"`` or ``"github"``; ``str(err)`` explains what to
    check next. Respond with HTTP 400 and do not process the body.
    """

    def __init__(self, reason: str, message: str, scheme: str | None = None) -> None:
        if reason not in REASONS:
            raise AssertionError(f"unknown SignatureError reason {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.scheme = scheme

    def __reduce__(self):
        return (type(self), (self.reason, str(self), self.scheme))

    def __repr__(self) -> str:
        return f"SignatureError({self.reason!r}, {str(self)!r})"


# --- small helpers --------------------------------------------------------------------------------
_BLANK = " \t\r\n\f\v"  # what counts as a blank secret (the set Stripe's library strips)
_MAX_TS_DIGITS = 18  # year ~31.7 billion; keeps int() cheap and bounded
_STANDARD_PREFIX = "whsec_"
_RAW_BODY_HINT = "pass the raw request body exactly as received (bytes), not parsed and re-serialised JSON"


def _clip(value: object, limit: int = 60) -> str:
    """A short repr of untrusted input for an error message."""
    try:
        text = repr(value)
    except Exception:  # pragma: no cover - repr of str/bytes/int cannot fail
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _payload_bytes(payload: object, scheme: str) -> bytes:
    """The raw body as bytes: ``bytes`` as is, ``str`` as UTF-8, anything else refused."""
    if isinstance(payload, str):
        try:
            return payload.encode("utf-8")
        except UnicodeEncodeError:
            raise SignatureError(
                MALFORMED_PAYLOAD,
                "payload str cannot be encoded as UTF-8 (it contains lone surrogates); " + _RAW_BODY_HINT,
                scheme,
            ) from None
    if isinstance(payload, (bytes, bytearray, memoryview)):
        try:
            return bytes(payload)
        except Exception:  # e.g. a released memoryview
            pass
    raise SignatureError(
        MALFORMED_PAYLOAD,
        f"payload must be bytes (or str), got {type(payload).__name__}; {_RAW_BODY_HINT}",
        scheme,
    )


def _check_settings(tolerance: object, now: object) -> None:
    """The caller's settings (not the request's): ``tolerance`` > 0 or ``None``; ``now`` a number or ``None``."""
    if tolerance is not None and not (
        isinstance(tolerance, (int, float))
        and not isinstance(tolerance, bool)
        and not math.isnan(tolerance)
        and tolerance > 0
    ):
        raise ValueError(
            f"tolerance must be a positive number of seconds, or None to skip the time check; got {tolerance!r}"
        )
    if now is not None and not (
        isinstance(now, (int, float)) and not isinstance(now, bool) and not math.isnan(now)
    ):
        raise TypeError(f"now must be a Unix time in seconds (int or float) or None; got {now!r}")


def _check_time(ts: int, tolerance: float | None, now: float | None, scheme: str) -> None:
    if tolerance is None:
        return
    if now is None:
        now = time.time()
    if ts < now - tolerance:
        raise SignatureError(
            TIMESTAMP_TOO_OLD,
            f"the signature is valid but was made at {ts}, {now - ts:.0f} s before now "
            f"(tolerance {tolerance} s): a replayed or long-delayed delivery, or a slow clock on "
            f"this host (check NTP). Ask the sender to redeliver; do not widen the tolerance "
            f"without a reason",
            scheme,
        )
    if ts > now + tolerance:
        raise SignatureError(
            TIMESTAMP_TOO_NEW,
            f"the signature is valid but is dated {ts}, {ts - now:.0f} s after now "
            f"(tolerance {tolerance} s): a clock is wrong, on this host or the sender's "
            f"(check NTP), or `now` was passed in the wrong unit",
            scheme,
        )


def _parse_timestamp(text: str, where: str, scheme: str) -> int:
    if text.isascii() and text.isdigit() and len(text) <= _MAX_TS_DIGITS:
        return int(text)
    raise SignatureError(
        MALFORMED_HEADER,
        f"{where} must be a Unix time in whole seconds written as ASCII digits, got {_clip(text)}",
        scheme,
    )


def _text_key(secret: object, scheme: str) -> bytes:
    """The HMAC key of a Stripe/GitHub secret: the secret string's UTF-8 bytes."""
    if isinstance(secret, str):
        if not secret.strip(_BLANK):
            raise SignatureError(
                MISSING_SECRET,
                "the webhook secret is empty or blank: check the environment variable or "
                "settings entry that should hold it",
                scheme,
            )
        try:
            return secret.encode("utf-8")
        except UnicodeEncodeError:
            raise SignatureError(
                MALFORMED_SECRET,
                "the webhook secret cannot be encoded as UTF-8 (it contains lone surrogates)",
                scheme,
            ) from None
    if isinstance(secret, (bytes, bytearray)):
        if not bytes(secret).strip(_BLANK.encode()):
            raise SignatureError(MISSING_SECRET, "the webhook secret is empty or blank", scheme)
        return bytes(secret)
    if secret is None:
        raise SignatureError(
            MISSING_SECRET,
            "no webhook secret was given (None): configure the endpoint's signing secret",
            scheme,
        )
    raise SignatureError(
        MALFORMED_SECRET,
        f"the webhook secret must be a str (or a list of str), got {type(secret).__name__}",
        scheme,
    )


def _decode_standard_secret(secret: object) -> bytes:
    """The HMAC key of a Standard Webhooks secret: base64-decode what follows ``whsec_``."""
    if isinstance(secret, str):
        text = secret.rstrip(_BLANK)  # a newline from a secrets file; leading blanks: see docs
        if text.startswith(_STANDARD_PREFIX):
            text = text[len(_STANDARD_PREFIX) :]
        if not text:
            raise SignatureError(
                MISSING_SECRET,
                "the webhook secret is empty (or just 'whsec_'): check the environment variable "
                "or settings entry that should hold it",
                "standard",
            )
        try:
            if not text.isascii():
                raise ValueError("non-ASCII")
            return binascii.a2b_base64(text + "=" * (-len(text) % 4), strict_mode=True)
        except (ValueError, binascii.Error):
            raise SignatureError(
                MALFORMED_SECRET,
                f"the Standard Webhooks secret must be 'whsec_' followed by standard base64 "
                f"(A-Z a-z 0-9 + /, optional '=' padding); this one ({len(secret)} characters) "
                f"is not. Copy it again from the sender's dashboard; a Stripe secret is not a "
                f"Standard Webhooks secret",
                "standard",
            ) from None
    if isinstance(secret, (bytes, bytearray)):
        if not secret:
            raise SignatureError(MISSING_SECRET, "the webhook secret key is empty", "standard")
        return bytes(secret)
    if secret is None:
        raise SignatureError(
            MISSING_SECRET,
            "no webhook secret was given (None): configure the endpoint's whsec_... secret",
            "standard",
        )
    raise SignatureError(
        MALFORMED_SECRET,
        f"the webhook secret must be a str 'whsec_...' (or a list of them), got {type(secret).__name__}",
        "standard",
    )


def _single_key(secret: object, scheme: str) -> bytes:
    """The HMAC key bytes of one secret (``scheme`` decides how a str becomes a key)."""
    if scheme == "standard":
        return _decode_standard_secret(secret)
    return _text_key(secret, scheme)


def _keys(secret: object, scheme: str) -> list[bytes]:
    """HMAC keys for a secret, or for each of a list/tuple of secrets (receiver-side rotation)."""
    if not isinstance(secret, (list, tuple)):
        return [_single_key(secret, scheme)]
    if not secret:
        raise SignatureError(MISSING_SECRET, "the list of webhook secrets is empty: configure one", scheme)
    keys = []
    for one in secret:
        if isinstance(one, (list, tuple)):
            raise SignatureError(MALFORMED_SECRET, "a list of secrets must hold secrets, not lists", scheme)
        keys.append(_single_key(one, scheme))
    return keys


def _header_str(header: object, name: str, scheme: str) -> str:
    """A signature header's value, which must be a non-empty str."""
    if header is None or (isinstance(header, (str, bytes)) and not header):
        raise SignatureError(
            MISSING_HEADER,
            f"no {name} header value was given: read the header from the request (names are "
            f"case-insensitive) and pass its value; a request without it is not from the sender",
            scheme,
        )
    if isinstance(header, str):
        return header
    raise SignatureError(
        MALFORMED_HEADER,
        f"the {name} header value must be a str, got {type(header).__name__}",
        scheme,
    )


def _mismatch(scheme: str, what: str, nkeys: int) -> SignatureError:
    secrets = "the secret" if nkeys == 1 else f"any of the {nkeys} secrets"
    return SignatureError(
        SIGNATURE_MISMATCH,
        f"no {what} matches the body (and signed header values) under {secrets}. Check, in "
        f"this order: {_RAW_BODY_HINT}; "
        f"that the secret is this endpoint's signing secret (each endpoint and mode has its "
        f"own); that nothing between sender and you (proxy, framework) altered the body",
        scheme,
    )


def _hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.digest(key, message, "sha256")


# --- signing (the sender's side) ------------------------------------------------------------------
def _sign_payload(payload: object) -> bytes:
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    raise TypeError(f"payload must be bytes (or str), got {type(payload).__name__}")


def _valid_timestamp(timestamp: object) -> int:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError(f"timestamp must be an int (Unix seconds), got {timestamp!r}")
    if timestamp < 0:
        raise ValueError(f"timestamp must be >= 0, got {timestamp}")
    return timestamp


def _sign_keys(secret: object, scheme: str) -> list[bytes]:
    secrets = list(secret) if isinstance(secret, (list, tuple)) else [secret]
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    keys = []
    for one in secrets:
        if not isinstance(one, (str, bytes, bytearray)):
            raise TypeError(f"secret must be a str, got {type(one).__name__}")
        try:
            keys.append(_single_key(one, scheme))
        except SignatureError as err:
            raise ValueError(f"cannot sign with this secret: {err}") from None
    return keys


# --- Stripe ---------------------------------------------------------------------------------------
def sign_stripe(payload: bytes, secret: str, timestamp: int) -> str:
    """Return the ``Stripe-Signature`` header value ``t=<timestamp>,v1=<hex>`` for ``payload``.

    ``v1`` is HMAC-SHA256 keyed with the whole secret string (UTF-8), over ``b"<t>." + payload``.
    ``secret`` may also be a list of secrets: one ``v1=`` entry each, in order (the sender side of
    a secret roll). ``payload`` should be ``bytes`` (``str`` is encoded as UTF-8). Raises
    ``TypeError``/``ValueError`` for unusable arguments.

    >>> sign_stripe(b'{"id": "evt_1"}', "whsec_test", 1700000000)[:13]
    't=1700000000,'
    """
    message = b"%d." % _valid_timestamp(timestamp) + _sign_payload(payload)
    signatures = [_hmac_sha256(key, message).hex() for key in _sign_keys(secret, "stripe")]
    return ",".join([f"t={timestamp}", *(f"v1={s}" for s in signatures)])


def _stripe_items(header: str) -> tuple[str | None, list[str]]:
    """The first ``t`` value and every ``v1`` value of a Stripe header (``None``: no usable ``t``).

    Other keys (``v0``...) are ignored; a bare ``t`` or ``v1`` item (no ``=``) makes the header
    unusable, since it is not of Stripe's form. Items are not trimmed, as in Stripe's library.
    """
    ts_text, signatures = None, []
    for item in header.split(","):
        name, sep, value = item.partition("=")
        if name not in ("t", "v1"):
            continue
        if not sep:
            return None, signatures
        if name == "v1":
            signatures.append(value)
        elif ts_text is None:
            ts_text = value
    return ts_text, signatures


def verify_stripe(
    payload: bytes,
    header: str,
    secret: str | Sequence[str],
    *,
    tolerance: float | None = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Verify a Stripe-style signed delivery and return its signed timestamp (Unix seconds).

    ``header`` is the ``Stripe-Signature`` value ``t=<unix>,v1=<hex>[,v1=<hex>...]``: any ``v1``
    may match (the sender is rolling its secret); ``v0`` and unknown entries are ignored; the first
    ``t`` counts. ``secret`` is the endpoint's signing secret, or a list of them (you are rolling
    yours). ``payload`` is the raw body. The signature is checked first, then that
    ``now - tolerance <= t <= now + tolerance`` (``now`` defaults to ``time.time()``,
    ``tolerance=None`` skips the check). Raises :class:`SignatureError`, and nothing else, for any
    payload, header or secret.
    """
    _check_settings(tolerance, now)
    body = _payload_bytes(payload, "stripe")
    header = _header_str(header, STRIPE_SIGNATURE_HEADER, "stripe")
    keys = _keys(secret, "stripe")
    ts_text, signatures = _stripe_items(header)
    if ts_text is None:
        raise SignatureError(
            MALFORMED_HEADER,
            f"the {STRIPE_SIGNATURE_HEADER} header must look like 't=<unix seconds>,v1=<hex>'; "
            f"got {_clip(header)}. Check that you passed the signature header and not another one",
            "stripe",
        )
    ts = _parse_timestamp(ts_text, "the t= value", "stripe")
    if not signatures:
        raise SignatureError(
            NO_SIGNATURE_FOR_SCHEME,
            f"the {STRIPE_SIGNATURE_HEADER} header has no v1= signature (v0 and other schemes "
            f"are ignored): got {_clip(header)}",
            "stripe",
        )
    message = b"%d." % ts + body
    for key in keys:
        expected = _hmac_sha256(key, message).hex()
        for candidate in signatures:
            if candidate.isascii() and hmac.compare_digest(expected, candidate):
                _check_time(ts, tolerance, now, "stripe")
                return ts
    raise _mismatch("stripe", "v1 signature", len(keys))


# --- Standard Webhooks ----------------------------------------------------------------------------
def sign_standard(msg_id: str, timestamp: int, payload: bytes, secret: str) -> str:
    """Return the ``webhook-signature`` header value ``v1,<base64>`` (Standard Webhooks).

    The signature is base64 of HMAC-SHA256, keyed with the base64-decoded part of ``secret``
    (``whsec_<base64>``; the prefix is optional), over ``f"{msg_id}.{timestamp}.".encode() +
    payload``. ``secret`` may be a list: one space-separated ``v1,`` entry each. ``msg_id`` must be
    printable ASCII without ``.`` or spaces (the spec warns against ``.`` in ids). Raises
    ``TypeError``/``ValueError`` for unusable arguments.
    """
    if not isinstance(msg_id, str):
        raise TypeError(f"msg_id must be a str, got {type(msg_id).__name__}")
    if not msg_id or not all("!" <= ch <= "~" and ch != "." for ch in msg_id):
        raise ValueError(f"msg_id must be non-empty printable ASCII without '.' or spaces, got {msg_id!r}")
    message = b"%s.%d." % (msg_id.encode(), _valid_timestamp(timestamp)) + _sign_payload(payload)
    return " ".join(
        "v1," + binascii.b2a_base64(_hmac_sha256(key, message), newline=False).decode()
        for key in _sign_keys(secret, "standard")
    )


def standard_headers(msg_id: str, timestamp: int, payload: bytes, secret: str) -> dict[str, str]:
    """Return the three Standard Webhooks headers for a delivery of ``payload``.

    ``{"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": ...}``;
    see :func:`sign_standard`.
    """
    return {
        STANDARD_ID_HEADER: msg_id,
        STANDARD_TIMESTAMP_HEADER: str(timestamp),
        STANDARD_SIGNATURE_HEADER: sign_standard(msg_id, timestamp, payload, secret),
    }


_STANDARD_FAMILIES = ("webhook-", "svix-")
_STANDARD_FIELDS = ("id", "timestamp", "signature")
_STANDARD_NAMES = frozenset(prefix + field for prefix in _STANDARD_FAMILIES for field in _STANDARD_FIELDS)


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, (str, bytes)) and not value)


def _standard_header_values(headers: object) -> tuple[str, str, str]:
    """``(id, timestamp, signature)``: the ``webhook-`` family if complete, else the ``svix-`` one."""
    if headers is None:
        raise SignatureError(
            MISSING_HEADER,
            "no headers were given: pass the request's headers (a mapping of name to value)",
            "standard",
        )
    found: dict[str, object] = {}
    try:
        for name, value in headers.items():  # type: ignore[attr-defined]
            key = name.lower() if isinstance(name, str) else None
            if key in _STANDARD_NAMES:
                if key in found and found[key] != value:
                    raise SignatureError(
                        MALFORMED_HEADER,
                        f"the {key} header appears more than once with different values: refuse "
                        f"the request (a sender sends each header once)",
                        "standard",
                    )
                found[key] = value
    except SignatureError:
        raise
    except Exception:
        raise SignatureError(
            MALFORMED_HEADER,
            f"headers must be a mapping of header name to value (like request.headers), got "
            f"{type(headers).__name__}",
            "standard",
        ) from None
    for prefix in _STANDARD_FAMILIES:
        family = [found.get(prefix + field) for field in _STANDARD_FIELDS]
        if all(map(_present, family)):
            for field, value in zip(_STANDARD_FIELDS, family, strict=True):
                if not isinstance(value, str):
                    raise SignatureError(
                        MALFORMED_HEADER,
                        f"the {prefix}{field} header value must be a str, got {type(value).__name__}",
                        "standard",
                    )
            return family[0], family[1], family[2]  # type: ignore[return-value]
    missing = ["webhook-" + f for f in _STANDARD_FIELDS if not _present(found.get("webhook-" + f))]
    raise SignatureError(
        MISSING_HEADER,
        f"missing or empty Standard Webhooks header(s): {', '.join(missing)}. Pass all of the "
        f"request's headers (names are matched case-insensitively; svix-* names also work)",
        "standard",
    )


def _standard_signatures(sig_header: str) -> list[str]:
    """The ``v1`` signatures of a ``webhook-signature`` header (``<version>,<base64>`` entries)."""
    signatures = []
    for entry in sig_header.split(" "):
        if not entry:
            continue
        version, sep, signature = entry.partition(",")
        if not sep or "," in signature:
            raise SignatureError(
                MALFORMED_HEADER,
                f"each webhook-signature entry must be '<version>,<base64>' (entries separated "
                f"by spaces); got {_clip(entry)}",
                "standard",
            )
        if version == "v1":
            signatures.append(signature)
    return signatures


def verify_standard(
    payload: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: float | None = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Verify a Standard Webhooks delivery and return its signed timestamp (Unix seconds).

    ``headers`` is the request's header mapping (``request.headers`` or a ``dict``): names are
    matched case-insensitively; ``webhook-id``, ``webhook-timestamp``, ``webhook-signature`` are
    read, or the ``svix-`` family when the ``webhook-`` one is incomplete. ``webhook-signature`` is
    a space-separated list of ``<version>,<base64>`` entries; any ``v1`` entry may match, other
    versions (``v1a``...) are ignored, an entry without exactly one comma makes the header
    malformed. ``secret`` is ``whsec_<base64>`` (prefix optional), raw key ``bytes``, or a list of
    these. Time check as in :func:`verify_stripe`. Raises :class:`SignatureError`, and nothing
    else, for any payload, headers or secret.
    """
    _check_settings(tolerance, now)
    body = _payload_bytes(payload, "standard")
    msg_id, ts_text, sig_header = _standard_header_values(headers)
    keys = _keys(secret, "standard")
    ts = _parse_timestamp(ts_text, "the webhook-timestamp header", "standard")
    try:
        id_bytes = msg_id.encode("utf-8")
    except UnicodeEncodeError:
        raise SignatureError(
            MALFORMED_HEADER, "the webhook-id header is not encodable as UTF-8", "standard"
        ) from None
    signatures = _standard_signatures(sig_header)
    if not signatures:
        raise SignatureError(
            NO_SIGNATURE_FOR_SCHEME,
            f"the webhook-signature header has no v1 (HMAC-SHA256) entry: got {_clip(sig_header)}."
            f" If the sender signs with ed25519 (v1a) you need its public key, not this module",
            "standard",
        )
    message = b"%s.%d." % (id_bytes, ts) + body
    for key in keys:
        expected = binascii.b2a_base64(_hmac_sha256(key, message), newline=False).decode("ascii")
        for candidate in signatures:
            if candidate.isascii() and hmac.compare_digest(expected, candidate):
                _check_time(ts, tolerance, now, "standard")
                return ts
    raise _mismatch("standard", "v1 signature", len(keys))


# --- GitHub ---------------------------------------------------------------------------------------
def sign_github(payload: bytes, secret: str) -> str:
    """Return the ``X-Hub-Signature-256`` header value ``sha256=<hex>`` for ``payload``.

    HMAC-SHA256 keyed with the secret's UTF-8 bytes over the raw body; no timestamp. Raises
    ``TypeError``/``ValueError`` for unusable arguments.

    >>> sign_github(b"Hello, World!", "It's a Secret to Everybody")[:15]
    'sha256=757107ea'
    """
    body = _sign_payload(payload)
    if isinstance(secret, (list, tuple)):
        raise TypeError("GitHub signs with exactly one secret: pass a str")
    (key,) = _sign_keys(secret, "github")
    return "sha256=" + _hmac_sha256(key, body).hex()


def verify_github(payload: bytes, header: str, secret: str | Sequence[str]) -> None:
    """Verify a GitHub delivery's ``X-Hub-Signature-256`` header (``sha256=<hex>``).

    Returns ``None`` when the signature matches under ``secret`` (or any secret of a list/tuple).
    GitHub signs no timestamp: replay protection is up to you (remember ``X-GitHub-Delivery`` ids).
    The SHA-1 ``X-Hub-Signature`` header (``sha1=...``) is refused with reason
    ``no_signature_for_scheme``. Raises :class:`SignatureError` (and nothing else, for any input).
    """
    body = _payload_bytes(payload, "github")
    header = _header_str(header, GITHUB_SIGNATURE_HEADER, "github")
    keys = _keys(secret, "github")
    algorithm, sep, value = header.partition("=")
    if not sep:
        raise SignatureError(
            MALFORMED_HEADER,
            f"the {GITHUB_SIGNATURE_HEADER} header must look like 'sha256=<hex>', got {_clip(header)}",
            "github",
        )
    if algorithm != "sha256":
        hint = " (that is the legacy SHA-1 X-Hub-Signature header: read X-Hub-Signature-256)"
        raise SignatureError(
            NO_SIGNATURE_FOR_SCHEME,
            f"the signature is not a sha256= signature{hint if algorithm == 'sha1' else ''}: got {_clip(header)}",
            "github",
        )
    for key in keys:
        if value.isascii() and hmac.compare_digest(_hmac_sha256(key, body).hex(), value):
            return None
    if not (len(value) == 64 and value.isascii() and all(c in "0123456789abcdef" for c in value)):
        raise SignatureError(
            MALFORMED_HEADER,
            f"after 'sha256=' GitHub sends 64 lowercase hex digits; got {_clip(value)}",
            "github",
        )
    raise _mismatch("github", "sha256 signature", len(keys))
