"""Differential tests: hooklab.core.signing against the reference libraries as oracles.

The oracles are ``stripe.WebhookSignature.verify_header`` (stripe 16.1.0) and
``standardwebhooks.Webhook(secret).verify`` (standardwebhooks 1.1.0). Thousands of seeded random
deliveries, each a valid one with one mutation (tampered body, wrong secret, old and future
timestamps, several signatures, whitespace and case variants, non-ASCII bodies, re-serialised JSON,
...), go to both sides and the verdicts are compared:

- ``accept``: the function returned;
- ``reject``: it raised its verification error (``SignatureError``; ``SignatureVerificationError``;
  ``WebhookVerificationError``);
- ``crash``: the *reference* raised something else (``ValueError``, ``TypeError``,
  ``UnicodeDecodeError``...). A crash is no verdict; in an application it is an HTTP 500 and the
  delivery is not processed, so ``reject`` on our side counts as agreement. Ours never crashes.

Verdicts must agree, except in these deliberate divergences (each also has an explicit test below):

======================  =================  ========  ========  ========================================
id                      oracle             it says   we say    why ours differs
======================  =================  ========  ========  ========================================
stripe-future           stripe             accept    reject    a timestamp more than ``tolerance`` s in
                                                               the future is ``timestamp_too_new``;
                                                               Stripe's library only checks the past
stripe-ts-format        stripe             accept    reject    ``t= 1``, ``t=1 ``, ``t=+1``, ``t=1_0``,
                                                               non-ASCII digits: Stripe's ``int()``
                                                               takes them; we want plain ASCII digits
stripe-extra-equals     stripe             accept    reject    ``v1=<sig>=x``, ``t=<t>=x``: Stripe
                                                               splits items with ``maxsplit=2`` and
                                                               drops what follows a second ``=``; we
                                                               keep it
stripe-non-utf8-body    stripe             crash     accept    Stripe decodes the body as UTF-8 first
                                                               (``UnicodeDecodeError``); we verify the
                                                               raw bytes
std-ts-format           standardwebhooks   accept    reject    ``1.0``, `` 1``, ``+1``, ``1e0``,
                                                               ``1_0``, non-ASCII digits: the reference
                                                               parses ``float()`` and signs its floor;
                                                               the spec says "integer unix timestamp"
std-base64-lenient      standardwebhooks   accept    reject    the reference decodes signatures with
                                                               non-validating base64 (drops ``!-_``...,
                                                               ignores spare bits); we compare the
                                                               canonical base64 text
std-entry-after-match   standardwebhooks   accept    reject    an entry that is not ``<version>,<sig>``
                                                               *after* the matching one: the reference
                                                               stops at the match (before it, it
                                                               crashes); we refuse the header in any
                                                               order
std-blank-entry         standardwebhooks   crash     accept    a leading or doubled space before the
                                                               matching entry: the reference crashes on
                                                               the empty entry; we skip empty entries
std-duplicate-header    standardwebhooks   accept    reject    the same header twice (names differing
                                                               in case) with different values: the
                                                               reference keeps the last; we refuse
std-svix-names          standardwebhooks   reject    accept    ``svix-id``, ``svix-timestamp``,
                                                               ``svix-signature``: standardwebhooks
                                                               1.1.0 reads only
                                                               ``webhook-*``; the svix library reads
                                                               both
svix-precedence         svix               accept    reject    headers mixing the families (say
                                                               ``webhook-id`` with ``svix-timestamp``),
                                                               or a complete ``webhook-`` family next
                                                               to a valid ``svix-`` one: svix 2.x takes
                                                               each header from ``svix-*`` when present;
                                                               we read one whole family, ``webhook-``
                                                               first (explicit test only)
svix-precedence-reverse svix               reject    accept    a valid ``webhook-`` family next to an
                                                               invalid ``svix-`` one: svix verifies the
                                                               ``svix-`` values (explicit test only)
std-non-utf8-body       standardwebhooks   crash     accept    as stripe-non-utf8-body
std-lenient-secret      standardwebhooks   accept    reject    a secret with characters outside base64:
                                                               the reference drops them and uses the
                                                               rest as key; ours is
                                                               ``malformed_secret`` (explicit test
                                                               only)
======================  =================  ========  ========  ========================================

The references read the clock themselves; ours is given ``now=None`` too, and random timestamps
stay at least 30 s away from the edges of the 300 s window, so both sides agree deterministically.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import random
import string
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC

import pytest
import standardwebhooks
import stripe

from hooklab.core.signing import (
    MALFORMED_HEADER,
    MALFORMED_SECRET,
    SIGNATURE_MISMATCH,
    TIMESTAMP_TOO_NEW,
    SignatureError,
    sign_standard,
    sign_stripe,
    verify_standard,
    verify_stripe,
)

ACCEPT, REJECT, CRASH = "accept", "reject", "crash"

#: id -> (reference verdict, our verdict): the table in the module docstring.
DIVERGENCES = {
    "stripe-future": (ACCEPT, REJECT),
    "stripe-ts-format": (ACCEPT, REJECT),
    "stripe-extra-equals": (ACCEPT, REJECT),
    "stripe-non-utf8-body": (CRASH, ACCEPT),
    "std-ts-format": (ACCEPT, REJECT),
    "std-base64-lenient": (ACCEPT, REJECT),
    "std-entry-after-match": (ACCEPT, REJECT),
    "std-blank-entry": (CRASH, ACCEPT),
    "std-duplicate-header": (ACCEPT, REJECT),
    "std-svix-names": (REJECT, ACCEPT),
    "std-non-utf8-body": (CRASH, ACCEPT),
    "std-lenient-secret": (ACCEPT, REJECT),
    "svix-precedence": (ACCEPT, REJECT),
    "svix-precedence-reverse": (REJECT, ACCEPT),
}
#: Divergences shown by an explicit test only (the random generator does not produce them).
EXPLICIT_ONLY = {"std-lenient-secret", "svix-precedence", "svix-precedence-reverse"}

N_CASES = 4000  # per scheme; about a second each
TOLERANCE = 300
MARGIN = 30  # seconds kept between a random timestamp and the edge of the window


# --- the two sides --------------------------------------------------------------------------------
def ref_stripe(payload, header, secret, tolerance=TOLERANCE) -> str:
    try:
        stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
    except stripe.SignatureVerificationError:
        return REJECT
    except Exception:
        return CRASH
    return ACCEPT


def ours_stripe(payload, header, secret, tolerance=TOLERANCE) -> str:
    try:
        verify_stripe(payload, header, secret, tolerance=tolerance)
    except SignatureError:
        return REJECT
    return ACCEPT


def ref_standard(payload, headers, secret) -> str:
    try:
        standardwebhooks.Webhook(secret).verify(payload, headers, json_parse=False)
    except standardwebhooks.WebhookVerificationError:
        return REJECT
    except Exception:
        return CRASH
    return ACCEPT


def ours_standard(payload, headers, secret) -> str:
    try:
        verify_standard(payload, headers, secret, tolerance=TOLERANCE)
    except SignatureError:
        return REJECT
    return ACCEPT


def agree(ref: str, ours: str) -> bool:
    return ref == ours or (ref == CRASH and ours == REJECT)


# --- independent signers (plain hmac, not hooklab) ------------------------------------------------
def stripe_v1(secret: str, ts: int | str, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()


def standard_v1(key: bytes, msg_id: str, ts: int | str, body: bytes) -> str:
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


# --- random material ------------------------------------------------------------------------------
WORDS = ["payment", "succeeded", "café", "Zürich", "東京", "🎉", "naïve", "x", "", "a b", "\\", '"q"']


def random_body(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.1:
        return b""
    if kind < 0.2:
        return bytes(rng.choice(b"abcdefgh{}[]:, \n\t0123456789") for _ in range(rng.randint(1, 300)))
    obj = {
        "id": "evt_" + "".join(rng.choices(string.ascii_letters + string.digits, k=14)),
        "type": rng.choice(["payment.succeeded", "payment.failed", "charge.refunded"]),
        "data": {"amount": rng.randint(0, 10**7), "note": " ".join(rng.choices(WORDS, k=rng.randint(0, 6)))},
    }
    style = rng.randrange(3)
    if style == 0:
        return json.dumps(obj).encode()
    if style == 1:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return json.dumps(obj, indent=2, ensure_ascii=False).encode()


def tamper(rng: random.Random, body: bytes) -> bytes:
    options = ["flip", "append", "reserialise", "truncate"]
    how = rng.choice(options)
    if how == "reserialise":
        try:
            again = json.dumps(json.loads(body), sort_keys=rng.random() < 0.5).encode()
        except ValueError:
            again = body + b"\n"
        if again != body:
            return again
        how = "append"
    if how == "flip" and body:
        i = rng.randrange(len(body))
        return body[:i] + bytes([body[i] ^ (1 << rng.randrange(8))]) + body[i + 1 :]
    if how == "truncate" and body:
        return body[:-1]
    return body + rng.choice([b" ", b"\n", b"\x00", b"}"])


def non_utf8_body(rng: random.Random) -> bytes:
    body = random_body(rng)
    i = rng.randint(0, len(body))
    return body[:i] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"]) + body[i:]


def alnum(rng: random.Random, k: int) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits, k=k))


def random_hex(rng: random.Random) -> str:
    return "".join(rng.choices("0123456789abcdef", k=64))


def in_window(rng: random.Random, now: int) -> int:
    return now + rng.randint(-(TOLERANCE - MARGIN), TOLERANCE - MARGIN)


def outside_window(rng: random.Random, now: int, sign: int) -> int:
    return now + sign * rng.randint(TOLERANCE + MARGIN, 10**7)


# --- Stripe cases ---------------------------------------------------------------------------------
@dataclass
class StripeCase:
    kind: str
    payload: bytes | str
    header: object
    secret: object
    tolerance: int | None = TOLERANCE
    divergence: str | None = None


def stripe_case(rng: random.Random, now: int, kind: str) -> StripeCase:
    body = random_body(rng)
    secret = "whsec_" + alnum(rng, 32)
    ts = in_window(rng, now)
    sig = stripe_v1(secret, ts, body)

    def case(header, payload=body, key=secret, **kw) -> StripeCase:
        return StripeCase(kind, payload, header, key, **kw)

    if kind == "valid":
        return case(f"t={ts},v1={sig}")
    if kind == "str_payload":
        return case(f"t={ts},v1={sig}", payload=body.decode())
    if kind == "tampered_body":
        return case(f"t={ts},v1={sig}", payload=tamper(rng, body))
    if kind == "wrong_secret":
        return case(f"t={ts},v1={sig}", key="whsec_" + alnum(rng, 32))
    if kind == "secret_with_newline":
        return case(f"t={ts},v1={sig}", key=secret + "\n")
    if kind == "blank_secret":
        return case(f"t={ts},v1={sig}", key=rng.choice(["", " ", "\t\n"]))
    if kind == "old":
        old = outside_window(rng, now, -1)
        return case(f"t={old},v1={stripe_v1(secret, old, body)}")
    if kind == "future":
        new = outside_window(rng, now, +1)
        return case(f"t={new},v1={stripe_v1(secret, new, body)}", divergence="stripe-future")
    if kind == "old_no_tolerance":
        old = outside_window(rng, now, -1)
        return case(f"t={old},v1={stripe_v1(secret, old, body)}", tolerance=None)
    if kind == "replayed_with_new_t":
        old = outside_window(rng, now, -1)
        return case(f"t={ts},v1={stripe_v1(secret, old, body)}")
    if kind in ("several_v1", "several_v1_none_valid"):
        items = [f"v1={random_hex(rng)}" for _ in range(rng.randint(1, 3))]
        items += [f"v0={random_hex(rng)}" for _ in range(rng.randint(0, 2))]
        if kind == "several_v1":
            items.append(f"v1={sig}")
        rng.shuffle(items)
        return case(",".join([f"t={ts}", *items]))
    if kind == "only_v0":
        return case(f"t={ts},v0={sig}")
    if kind == "other_items":
        items = [f"v1={sig}", "foo=bar", "", "x", "v2=" + random_hex(rng), "scheme=v1"]
        rng.shuffle(items)
        items.insert(rng.randint(0, len(items)), f"t={ts}")
        return case(",".join(items))
    if kind == "space_after_comma":
        return case(f"t={ts}, v1={sig}")
    if kind == "space_around_header":
        return case(rng.choice([f" t={ts},v1={sig}", f"t={ts},v1={sig} ", f"t={ts},v1= {sig}"]))
    if kind == "t_format":
        text = rng.choice([f" {ts}", f"{ts} ", f"+{ts}", f"{ts // 1000}_{ts % 1000:03d}", f"\t{ts}\n"])
        text = rng.choice([text, str(ts).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))])
        return case(f"t={text},v1={sig}", divergence="stripe-ts-format")
    if kind == "t_leading_zeros":
        return case(f"t=00{ts},v1={sig}")
    if kind == "case_variants":
        return case(rng.choice([f"T={ts},v1={sig}", f"t={ts},V1={sig}", f"t={ts},v1={sig.upper()}"]))
    if kind == "extra_equals":
        header = rng.choice([f"t={ts},v1={sig}=junk", f"t={ts}=junk,v1={sig}", f"t={ts},v1={sig}="])
        return case(header, divergence="stripe-extra-equals")
    if kind == "duplicate_t":
        if rng.random() < 0.5:
            return case(f"t={ts},v1={sig},t=garbage")
        return case(f"t=garbage,v1={sig},t={ts}")
    if kind == "bare_items":
        return case(rng.choice([f"t={ts},v1={sig},t", f"t,t={ts},v1={sig}", f"t={ts},v1={sig},v1"]))
    if kind == "truncated_signature":
        return case(f"t={ts},v1={sig[: rng.randint(0, 63)]}")
    if kind == "non_ascii_signature":
        return case(f"t={ts},v1=é{sig[1:]}")
    if kind == "non_utf8_body":
        raw = non_utf8_body(rng)
        return case(f"t={ts},v1={stripe_v1(secret, ts, raw)}", payload=raw, divergence="stripe-non-utf8-body")
    if kind == "garbage_header":
        alphabet = string.printable + "é東🎉=,"
        return case("".join(rng.choices(alphabet, k=rng.randint(1, 80))))
    if kind == "empty_header":
        return case(rng.choice(["", None]))
    raise AssertionError(kind)


STRIPE_KINDS = [
    "valid",
    "str_payload",
    "tampered_body",
    "wrong_secret",
    "secret_with_newline",
    "blank_secret",
    "old",
    "future",
    "old_no_tolerance",
    "replayed_with_new_t",
    "several_v1",
    "several_v1_none_valid",
    "only_v0",
    "other_items",
    "space_after_comma",
    "space_around_header",
    "t_format",
    "t_leading_zeros",
    "case_variants",
    "extra_equals",
    "duplicate_t",
    "bare_items",
    "truncated_signature",
    "non_ascii_signature",
    "non_utf8_body",
    "garbage_header",
    "empty_header",
]


# --- Standard Webhooks cases ----------------------------------------------------------------------
@dataclass
class StandardCase:
    kind: str
    payload: bytes | str
    headers: dict
    secret: object
    divergence: str | None = None
    notes: dict = field(default_factory=dict)


def non_canonical_base64(rng: random.Random, value: str) -> str:
    """Same bytes, different text: change the unused low bits of the last base64 digit."""
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
    last = alphabet.index(value[-2])  # 32 bytes = 43 digits + '=': the last digit has 2 spare bits
    other = last ^ rng.randint(1, 0b11)
    return value[:-2] + alphabet[other] + "="


def standard_case(rng: random.Random, now: int, kind: str) -> StandardCase:
    body = random_body(rng)
    key = rng.randbytes(rng.choice([24, 32, 64]))
    secret = "whsec_" + base64.b64encode(key).decode()
    msg_id = "msg_" + alnum(rng, 27)
    ts = in_window(rng, now)
    sig = standard_v1(key, msg_id, ts, body)
    good = f"v1,{sig}"

    def headers(signature=good, ts_text=str(ts), ident=msg_id) -> dict:
        return {"webhook-id": ident, "webhook-timestamp": ts_text, "webhook-signature": signature}

    def case(hdrs, payload=body, secret_=secret, divergence=None) -> StandardCase:
        return StandardCase(kind, payload, hdrs, secret_, divergence)

    if kind == "valid":
        return case(headers())
    if kind == "str_payload":
        return case(headers(), payload=body.decode())
    if kind == "secret_variants":
        bare = secret.removeprefix("whsec_")
        return case(headers(), secret_=rng.choice([bare, secret + "\n", " " + secret, key]))
    if kind == "tampered_body":
        return case(headers(), payload=tamper(rng, body))
    if kind == "wrong_secret":
        return case(headers(), secret_="whsec_" + base64.b64encode(rng.randbytes(32)).decode())
    if kind == "wrong_id":
        return case(headers(ident=msg_id + "x"))
    if kind == "changed_timestamp":
        return case(headers(ts_text=str(ts + rng.choice([-1, 1, 60]))))
    if kind == "old":
        old = outside_window(rng, now, -1)
        return case(headers(f"v1,{standard_v1(key, msg_id, old, body)}", str(old)))
    if kind == "future":
        new = outside_window(rng, now, +1)
        return case(headers(f"v1,{standard_v1(key, msg_id, new, body)}", str(new)))
    if kind in ("several_entries", "several_entries_none_valid"):
        entries = [f"v1,{base64.b64encode(rng.randbytes(32)).decode()}" for _ in range(rng.randint(1, 3))]
        entries += rng.sample([f"v1a,{sig}", f"v2,{sig}", f",{sig}", f"V1,{sig}"], k=rng.randint(0, 3))
        if kind == "several_entries":
            entries.append(good)
        rng.shuffle(entries)
        return case(headers(" ".join(entries)))
    if kind == "name_case":
        change = rng.choice([str.upper, str.title, str.lower, lambda s: s.replace("webhook", "Webhook")])
        return case({change(k): v for k, v in headers().items()})
    if kind == "trailing_space":
        return case(headers(good + rng.choice([" ", "  ", f" v1,{sig[::-1]} "])))
    if kind == "blank_entry_before_match":
        sig_header = rng.choice([" " + good, f"v1,{sig[::-1]}  {good}", "  " + good])
        return case(headers(sig_header), divergence="std-blank-entry")
    if kind == "bad_entry_after_match":
        bad = rng.choice(["v1", "garbage", f"v1,{sig},x", "a,b,c"])
        return case(headers(f"{good} {bad}"), divergence="std-entry-after-match")
    if kind == "bad_entry_before_match":
        bad = rng.choice(["v1", "garbage", f"v1,{sig},x", "a,b,c"])
        return case(headers(f"{bad} {good}"))
    if kind == "base64_lenient":
        if rng.random() < 0.5:
            i = rng.randint(0, len(sig) - 1)
            variant = sig[:i] + rng.choice("!#$%&*-.:;?@^_~") + sig[i:]
        else:
            variant = non_canonical_base64(rng, sig)
        return case(headers("v1," + variant), divergence="std-base64-lenient")
    if kind == "base64_broken":
        return case(headers("v1," + rng.choice([sig.rstrip("="), sig.swapcase(), sig[:-5], "é" + sig])))
    if kind == "ts_format":
        text = rng.choice(
            [f"{ts}.0", f"{ts}.9", f" {ts}", f"{ts} ", f"+{ts}", f"{ts}e0", f"{ts // 1000}_{ts % 1000:03d}"]
        )
        text = rng.choice([text, str(ts).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))])
        return case(headers(ts_text=text), divergence="std-ts-format")
    if kind == "ts_leading_zeros":
        return case(headers(ts_text="000" + str(ts)))
    if kind == "ts_garbage":
        return case(headers(ts_text=rng.choice(["", "abc", "nan", "inf", "-1", "1e400", "0x10", "9" * 400])))
    if kind == "duplicate_header_last_valid":
        bogus = f"v1,{base64.b64encode(rng.randbytes(32)).decode()}"
        hdrs = headers(bogus)
        hdrs["Webhook-Signature"] = good  # after the lowercase one: the reference keeps it
        return case(hdrs, divergence="std-duplicate-header")
    if kind == "duplicate_header_first_valid":
        hdrs = headers()
        hdrs["WEBHOOK-SIGNATURE"] = f"v1,{base64.b64encode(rng.randbytes(32)).decode()}"
        return case(hdrs)
    if kind == "svix_names":
        return case(
            {k.replace("webhook-", "svix-"): v for k, v in headers().items()}, divergence="std-svix-names"
        )
    if kind == "missing_header":
        hdrs = headers()
        name = rng.choice(list(hdrs))
        if rng.random() < 0.5:
            del hdrs[name]
        else:
            hdrs[name] = ""
        return case(hdrs)
    if kind == "non_utf8_body":
        raw = non_utf8_body(rng)
        sig_raw = standard_v1(key, msg_id, ts, raw)
        return case(headers(f"v1,{sig_raw}"), payload=raw, divergence="std-non-utf8-body")
    if kind == "empty_signature":
        return case(headers(rng.choice(["v1,", "v1, v1,"])))
    raise AssertionError(kind)


STANDARD_KINDS = [
    "valid",
    "str_payload",
    "secret_variants",
    "tampered_body",
    "wrong_secret",
    "wrong_id",
    "changed_timestamp",
    "old",
    "future",
    "several_entries",
    "several_entries_none_valid",
    "name_case",
    "trailing_space",
    "blank_entry_before_match",
    "bad_entry_after_match",
    "bad_entry_before_match",
    "base64_lenient",
    "base64_broken",
    "ts_format",
    "ts_leading_zeros",
    "ts_garbage",
    "duplicate_header_last_valid",
    "duplicate_header_first_valid",
    "svix_names",
    "missing_header",
    "non_utf8_body",
    "empty_signature",
]


# --- the generated comparisons --------------------------------------------------------------------
def check(case, ref: str, ours: str, failures: list, seen: Counter) -> None:
    seen[(case.kind, case.divergence, ref, ours)] += 1
    if case.divergence is None:
        if not agree(ref, ours):
            failures.append((case, ref, ours))
    elif (ref, ours) != DIVERGENCES[case.divergence]:
        failures.append((case, ref, ours))


@pytest.mark.parametrize("seed", [1, 2])
def test_stripe_verdicts_match_the_reference(seed):
    rng = random.Random(seed)
    now = int(time.time())
    failures: list = []
    seen: Counter = Counter()
    for i in range(N_CASES // 2):
        case = stripe_case(rng, now, STRIPE_KINDS[i % len(STRIPE_KINDS)])
        ref = ref_stripe(case.payload, case.header, case.secret, case.tolerance)
        ours = ours_stripe(case.payload, case.header, case.secret, case.tolerance)
        check(case, ref, ours, failures, seen)
    assert not failures, failures[:5]
    kinds = {kind for kind, *_ in seen}
    assert kinds == set(STRIPE_KINDS)
    verdicts = Counter(ours for *_, ours in seen.elements())
    assert verdicts[ACCEPT] > 300 and verdicts[REJECT] > 300


@pytest.mark.parametrize("seed", [1, 2])
def test_standard_verdicts_match_the_reference(seed):
    rng = random.Random(seed)
    now = int(time.time())
    failures: list = []
    seen: Counter = Counter()
    for i in range(N_CASES // 2):
        case = standard_case(rng, now, STANDARD_KINDS[i % len(STANDARD_KINDS)])
        ref = ref_standard(case.payload, case.headers, case.secret)
        ours = ours_standard(case.payload, case.headers, case.secret)
        check(case, ref, ours, failures, seen)
    assert not failures, failures[:5]
    assert {kind for kind, *_ in seen} == set(STANDARD_KINDS)
    verdicts = Counter(ours for *_, ours in seen.elements())
    assert verdicts[ACCEPT] > 300 and verdicts[REJECT] > 300


def test_every_divergence_is_generated_and_documented():
    rng = random.Random(0)
    now = int(time.time())
    generated = set()
    for _ in range(3):
        generated |= {stripe_case(rng, now, kind).divergence for kind in STRIPE_KINDS}
        generated |= {standard_case(rng, now, kind).divergence for kind in STANDARD_KINDS}
    generated.discard(None)
    assert generated == set(DIVERGENCES) - EXPLICIT_ONLY
    for name in DIVERGENCES:
        assert name in __doc__


# --- signing agrees with the references' signers ------------------------------------------------
def test_sign_stripe_matches_stripe_generate_signature_header():
    rng = random.Random(7)
    for _ in range(200):
        body = random_body(rng)
        secret = "whsec_" + alnum(rng, rng.randint(1, 40))
        ts = rng.randint(0, 2**33)
        expected = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, ts)
        assert sign_stripe(body, secret, ts) == expected


def test_stripe_vector_in_unit_tests_is_stripes_own():
    payload = '{"id": "evt_test_webhook", "object": "event"}'
    header = stripe.WebhookSignature.generate_signature_header(payload, "whsec_test_secret", 1614265330)
    assert header == "t=1614265330,v1=64776382e3b272a50ff9d6821bb74452794757d5dd79f1b091f36be25190d080"


def test_sign_standard_matches_the_reference_signer():
    from datetime import datetime

    rng = random.Random(8)
    for _ in range(200):
        body = random_body(rng)
        secret = "whsec_" + base64.b64encode(rng.randbytes(rng.randint(1, 64))).decode()
        msg_id = "msg_" + alnum(rng, 20)
        ts = rng.randint(0, 2**32)
        when = datetime.fromtimestamp(ts, tz=UTC)
        expected = standardwebhooks.Webhook(secret).sign(msg_id, when, body.decode())
        assert sign_standard(msg_id, ts, body, secret) == expected


# --- each divergence, explicitly ------------------------------------------------------------------
@pytest.fixture
def now() -> int:
    return int(time.time())


BODY = b'{"id": "evt_1", "type": "payment.succeeded"}'
SECRET = "whsec_" + "a1B2c3D4" * 4
STD_KEY = b"k" * 32
STD_SECRET = "whsec_" + base64.b64encode(STD_KEY).decode()


def std_headers(now: int, signature: str | None = None, ts_text: str | None = None) -> dict:
    signature = signature or f"v1,{standard_v1(STD_KEY, 'msg_1', now, BODY)}"
    return {"webhook-id": "msg_1", "webhook-timestamp": ts_text or str(now), "webhook-signature": signature}


def test_divergence_stripe_future(now):
    ts = now + 3600
    header = f"t={ts},v1={stripe_v1(SECRET, ts, BODY)}"
    assert ref_stripe(BODY, header, SECRET) == ACCEPT
    with pytest.raises(SignatureError) as exc_info:
        verify_stripe(BODY, header, SECRET)
    assert exc_info.value.reason == TIMESTAMP_TOO_NEW
    # Without a time check the two agree again.
    assert ref_stripe(BODY, header, SECRET, None) == ours_stripe(BODY, header, SECRET, None) == ACCEPT


@pytest.mark.parametrize("template", ["t= {ts}", "t={ts} ", "t=+{ts}", "t={ts}\n"])
def test_divergence_stripe_ts_format(now, template):
    header = template.format(ts=now) + f",v1={stripe_v1(SECRET, now, BODY)}"
    assert ref_stripe(BODY, header, SECRET) == ACCEPT
    with pytest.raises(SignatureError) as exc_info:
        verify_stripe(BODY, header, SECRET)
    assert exc_info.value.reason == MALFORMED_HEADER


def test_divergence_stripe_extra_equals(now):
    sig = stripe_v1(SECRET, now, BODY)
    for header, reason in (
        (f"t={now},v1={sig}=x", SIGNATURE_MISMATCH),
        (f"t={now}=x,v1={sig}", MALFORMED_HEADER),
    ):
        assert ref_stripe(BODY, header, SECRET) == ACCEPT
        with pytest.raises(SignatureError) as exc_info:
            verify_stripe(BODY, header, SECRET)
        assert exc_info.value.reason == reason


def test_divergence_stripe_non_utf8_body(now):
    body = b"\xff\xfe binary"
    header = f"t={now},v1={stripe_v1(SECRET, now, body)}"
    with pytest.raises(UnicodeDecodeError):
        stripe.WebhookSignature.verify_header(body, header, SECRET, TOLERANCE)
    assert verify_stripe(body, header, SECRET) == now


@pytest.mark.parametrize("template", ["{ts}.0", "{ts}.9", " {ts}", "+{ts}", "{ts}e0", "{ts_underscored}"])
def test_divergence_std_ts_format(now, template):
    ts_text = template.format(ts=now, ts_underscored=f"{now // 1000}_{now % 1000:03d}")
    signed_ts = math.floor(float(ts_text))  # what the reference signs: the floor of float(header)
    assert signed_ts == now
    headers = std_headers(now, f"v1,{standard_v1(STD_KEY, 'msg_1', signed_ts, BODY)}", ts_text)
    assert ref_standard(BODY, headers, STD_SECRET) == ACCEPT
    with pytest.raises(SignatureError) as exc_info:
        verify_standard(BODY, headers, STD_SECRET)
    assert exc_info.value.reason == MALFORMED_HEADER


def test_divergence_std_base64_lenient(now):
    sig = standard_v1(STD_KEY, "msg_1", now, BODY)
    for variant in (
        sig[:5] + "!" + sig[5:],
        sig[:5] + "-_" + sig[5:],
        non_canonical_base64(random.Random(1), sig),
    ):
        assert base64.b64decode(variant) == base64.b64decode(sig)
        headers = std_headers(now, "v1," + variant)
        assert ref_standard(BODY, headers, STD_SECRET) == ACCEPT
        with pytest.raises(SignatureError) as exc_info:
            verify_standard(BODY, headers, STD_SECRET)
        assert exc_info.value.reason == SIGNATURE_MISMATCH


def test_divergence_std_entry_after_match(now):
    good = std_headers(now)["webhook-signature"]
    after = std_headers(now, f"{good} garbage")
    assert ref_standard(BODY, after, STD_SECRET) == ACCEPT
    before = std_headers(now, f"garbage {good}")
    assert ref_standard(BODY, before, STD_SECRET) == CRASH  # ValueError: not enough values to unpack
    for headers in (after, before):
        with pytest.raises(SignatureError) as exc_info:
            verify_standard(BODY, headers, STD_SECRET)
        assert exc_info.value.reason == MALFORMED_HEADER


def test_divergence_std_blank_entry(now):
    good = std_headers(now)["webhook-signature"]
    for signature in (" " + good, f"v1,AAAA  {good}"):
        headers = std_headers(now, signature)
        assert ref_standard(BODY, headers, STD_SECRET) == CRASH
        assert verify_standard(BODY, headers, STD_SECRET) == now
    trailing = std_headers(now, good + "  ")  # after the match: the reference never sees the blank
    assert ref_standard(BODY, trailing, STD_SECRET) == ours_standard(BODY, trailing, STD_SECRET) == ACCEPT


def test_divergence_std_duplicate_header(now):
    headers = std_headers(now, "v1,AAAA")
    headers["Webhook-Signature"] = std_headers(now)["webhook-signature"]
    assert ref_standard(BODY, headers, STD_SECRET) == ACCEPT
    with pytest.raises(SignatureError) as exc_info:
        verify_standard(BODY, headers, STD_SECRET)
    assert exc_info.value.reason == MALFORMED_HEADER


def test_divergence_std_svix_names(now):
    headers = {k.replace("webhook-", "svix-"): v for k, v in std_headers(now).items()}
    assert ref_standard(BODY, headers, STD_SECRET) == REJECT
    assert verify_standard(BODY, headers, STD_SECRET) == now


def test_divergence_std_non_utf8_body(now):
    body = b"\x80 binary \xff"
    headers = std_headers(now, f"v1,{standard_v1(STD_KEY, 'msg_1', now, body)}")
    with pytest.raises(UnicodeDecodeError):
        standardwebhooks.Webhook(STD_SECRET).verify(body, headers, json_parse=False)
    assert verify_standard(body, headers, STD_SECRET) == now


def test_divergence_std_lenient_secret(now):
    secret = "whsec_c2Vj-cmV0_LWtleQ!!"  # '-', '_' and '!' are not base64
    key_the_reference_uses = base64.b64decode(secret.removeprefix("whsec_") + "==")
    headers = std_headers(now, f"v1,{standard_v1(key_the_reference_uses, 'msg_1', now, BODY)}")
    assert ref_standard(BODY, headers, secret) == ACCEPT
    with pytest.raises(SignatureError) as exc_info:
        verify_standard(BODY, headers, secret)
    assert exc_info.value.reason == MALFORMED_SECRET


def ref_svix(payload: bytes, headers: dict, secret: str) -> str:
    """The svix library's verdict (svix 2.x: ``Webhook.verify`` reads ``svix-*`` first, per header)."""
    import svix.webhooks

    try:
        svix.webhooks.Webhook(secret).verify(payload, headers)
    except svix.webhooks.WebhookVerificationError:
        return REJECT
    return ACCEPT


def test_svix_agrees_on_either_family_alone(now):
    good = std_headers(now)
    assert ref_svix(BODY, good, STD_SECRET) == ACCEPT and verify_standard(BODY, good, STD_SECRET) == now
    svix_only = {k.replace("webhook-", "svix-"): v for k, v in good.items()}
    assert ref_svix(BODY, svix_only, STD_SECRET) == ACCEPT
    assert verify_standard(BODY, svix_only, STD_SECRET) == now


def test_divergence_svix_precedence(now):
    good = std_headers(now)
    mixed = {"webhook-id": good["webhook-id"], "svix-timestamp": good["webhook-timestamp"],
             "webhook-signature": good["webhook-signature"]}  # fmt: skip
    assert ref_svix(BODY, mixed, STD_SECRET) == ACCEPT
    with pytest.raises(SignatureError) as exc_info:
        verify_standard(BODY, mixed, STD_SECRET)
    assert exc_info.value.reason == "missing_header"
    # a broken webhook- family next to a valid svix- one: svix reads the svix- values, we the webhook- ones
    both = {**std_headers(now, "v1,AAAA"), **{k.replace("webhook-", "svix-"): v for k, v in good.items()}}
    assert ref_svix(BODY, both, STD_SECRET) == ACCEPT
    with pytest.raises(SignatureError) as exc_info:
        verify_standard(BODY, both, STD_SECRET)
    assert exc_info.value.reason == SIGNATURE_MISMATCH


def test_divergence_svix_precedence_reverse(now):
    good = std_headers(now)
    both = {**good, "svix-id": "msg_other", "svix-timestamp": str(now), "svix-signature": "v1,AAAA"}
    assert ref_svix(BODY, both, STD_SECRET) == REJECT
    assert verify_standard(BODY, both, STD_SECRET) == now


def test_reference_crashes_we_reject(now):
    """Inputs where a reference raises something other than its verification error: we reject."""
    sig = stripe_v1(SECRET, now, BODY)
    stripe_inputs = [
        (BODY, f"t={now},v1=é{sig[1:]}", SECRET),  # TypeError in compare_digest
        (BODY, f"t={now},v1={sig}", 42),  # AttributeError: int has no strip
        ("\ud800", f"t={now},v1={sig}", SECRET),  # UnicodeEncodeError
    ]
    for payload, header, secret in stripe_inputs:
        assert ref_stripe(payload, header, secret) == CRASH
        assert ours_stripe(payload, header, secret) == REJECT
    std_inputs = [
        (BODY, std_headers(now, "v1,abc"), STD_SECRET),  # binascii.Error: incorrect padding
        (BODY, std_headers(now, "v1,é"), STD_SECRET),  # ValueError: non-ASCII base64
        (BODY, std_headers(now, ts_text="1e400"), STD_SECRET),  # rejected: overflow is caught
        (BODY, std_headers(now), "whsec_"),  # EmptyWebhookSecretError
        (BODY, std_headers(now), "whsec_abcde"),  # binascii.Error
        (None, std_headers(now), STD_SECRET),  # AttributeError: None has no decode
    ]
    for payload, headers, secret in std_inputs:
        assert ref_standard(payload, headers, secret) in (CRASH, REJECT)
        assert ours_standard(payload, headers, secret) == REJECT
