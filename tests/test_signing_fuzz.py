"""Property-based fuzzing of hooklab.core.signing (hypothesis, derandomized so CI is deterministic).

1. For arbitrary inputs, every verify function either succeeds or raises SignatureError with a
   reason from REASONS; no other exception escapes. Inputs mix plain garbage (text, bytes, None,
   numbers, containers) with near-valid structure, so the fuzzer also reaches the deep branches.
2. sign -> verify round-trips for every scheme, and any change to the body breaks the signature.
"""

from __future__ import annotations

import base64
import string
from collections.abc import Mapping

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hooklab.core.signing import (
    REASONS,
    SIGNATURE_MISMATCH,
    SignatureError,
    sign_github,
    sign_standard,
    sign_stripe,
    standard_headers,
    verify_github,
    verify_standard,
    verify_stripe,
)

FUZZ = settings(
    max_examples=400,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
ROUND_TRIP = settings(FUZZ, max_examples=300)

# --- building blocks ------------------------------------------------------------------------------
garbage = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.binary(max_size=80),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.lists(st.one_of(st.text(max_size=10), st.integers(), st.none()), max_size=3),
    st.tuples(st.text(max_size=10)),
    st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
    st.builds(object),
)
payloads = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    st.builds(bytearray, st.binary(max_size=50)),
    st.builds(memoryview, st.binary(max_size=50)),
    st.text(alphabet=st.characters(codec=None, categories=["Cs"]), min_size=1, max_size=3),  # surrogates
    garbage,
)
digits = st.from_regex(r"[0-9]{1,20}", fullmatch=True)
hexes = st.from_regex(r"[0-9a-fA-F]{0,66}", fullmatch=True)
b64s = st.binary(min_size=0, max_size=40).map(lambda b: base64.b64encode(b).decode())
fragments = st.one_of(st.text(max_size=40), digits, hexes, b64s, st.sampled_from(["", " ", "=", ",", "é"]))

stripe_items = st.tuples(
    st.sampled_from(["t", "v1", "v0", "T", "V1", "", "x", " t", "v1 "]),
    st.sampled_from(["=", "", "==", "= "]),
    fragments,
).map("".join)
stripe_headers = st.one_of(garbage, st.lists(stripe_items, max_size=6).map(",".join))

text_secrets = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=string.whitespace, max_size=3),
    st.binary(max_size=20),
    st.lists(st.one_of(st.text(max_size=20), st.binary(max_size=5), st.none(), st.integers()), max_size=3),
    garbage,
)
standard_secrets = st.one_of(
    st.tuples(st.sampled_from(["whsec_", "", " whsec_", "WHSEC_"]), fragments).map("".join),
    b64s.map(lambda s: "whsec_" + s),
    text_secrets,
)

header_names = st.sampled_from(
    ["webhook-id", "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp"]
    + ["svix-signature", "Webhook-Id", "WEBHOOK-TIMESTAMP", "Webhook-Signature", "content-type"]
)
signature_entries = st.tuples(
    st.sampled_from(["v1", "v1a", "v2", "", "V1"]), st.sampled_from([",", "", ",,"]), fragments
).map("".join)
header_values = st.one_of(
    st.text(max_size=40),
    digits,
    st.lists(signature_entries, max_size=4).map(" ".join),
    st.binary(max_size=10),
    st.none(),
    st.integers(),
)


class RaisingMapping(Mapping):
    """A mapping whose iteration fails half-way."""

    def __getitem__(self, key):
        raise KeyError(key)

    def __len__(self):
        return 1

    def __iter__(self):
        yield "webhook-id"
        raise RuntimeError("connection reset while reading headers")


class WeirdValue:
    """A header value whose comparison and truthiness misbehave."""

    def __eq__(self, other):
        raise RuntimeError("no comparisons")

    __hash__ = object.__hash__

    def __bool__(self):
        raise RuntimeError("no truthiness")


standard_header_maps = st.one_of(
    garbage,
    st.dictionaries(
        st.one_of(header_names, st.text(max_size=10), st.binary(max_size=5)), header_values, max_size=7
    ),
    st.lists(st.tuples(header_names, header_values), max_size=6),
    st.just(RaisingMapping()),
    st.builds(
        lambda v: {"webhook-id": v, "Webhook-Id": "x", "webhook-timestamp": "1"}, st.builds(WeirdValue)
    ),
)
nows = st.one_of(st.none(), st.integers(0, 2**40), st.floats(allow_nan=False))
tolerances = st.one_of(st.none(), st.integers(1, 10**9), st.floats(min_value=1e-3, allow_nan=False))


def assert_only_signature_error(call) -> object:
    try:
        return call()
    except SignatureError as err:
        assert err.reason in REASONS
        message = str(err)
        assert message and len(message) < 1000
        return err


# --- 1. nothing but SignatureError ----------------------------------------------------------------
@FUZZ
@given(payload=payloads, header=stripe_headers, secret=text_secrets, tolerance=tolerances, now=nows)
def test_verify_stripe_raises_only_signature_error(payload, header, secret, tolerance, now):
    result = assert_only_signature_error(
        lambda: verify_stripe(payload, header, secret, tolerance=tolerance, now=now)
    )
    assert isinstance(result, (int, SignatureError))


@FUZZ
@given(
    payload=payloads, headers=standard_header_maps, secret=standard_secrets, tolerance=tolerances, now=nows
)
def test_verify_standard_raises_only_signature_error(payload, headers, secret, tolerance, now):
    result = assert_only_signature_error(
        lambda: verify_standard(payload, headers, secret, tolerance=tolerance, now=now)
    )
    assert isinstance(result, (int, SignatureError))


@FUZZ
@given(
    payload=payloads,
    header=st.one_of(
        garbage, st.tuples(st.sampled_from(["sha256=", "sha1=", "", "SHA256="]), fragments).map("".join)
    ),
    secret=text_secrets,
)
def test_verify_github_raises_only_signature_error(payload, header, secret):
    result = assert_only_signature_error(lambda: verify_github(payload, header, secret))
    assert result is None or isinstance(result, SignatureError)


@FUZZ
@given(
    payload=st.binary(max_size=100), secret=st.text(min_size=1, max_size=20).filter(str.strip), data=st.data()
)
def test_mutated_valid_stripe_headers_raise_only_signature_error(payload, secret, data):
    """Start from a valid header and splice garbage into it: deep branches, same guarantee."""
    header = sign_stripe(payload, [secret, secret + "x"], 1_700_000_000)
    i = data.draw(st.integers(0, len(header)))
    j = data.draw(st.integers(i, len(header)))
    mutated = header[:i] + data.draw(fragments) + header[j:]
    assert_only_signature_error(lambda: verify_stripe(payload, mutated, secret, now=1_700_000_000))


@FUZZ
@given(payload=st.binary(max_size=100), key=st.binary(min_size=1, max_size=40), data=st.data())
def test_mutated_valid_standard_headers_raise_only_signature_error(payload, key, data):
    headers = standard_headers("msg_1", 1_700_000_000, payload, key)
    name = data.draw(st.sampled_from(sorted(headers)))
    value = headers[name]
    i = data.draw(st.integers(0, len(value)))
    headers[name] = value[:i] + data.draw(fragments) + value[i:]
    assert_only_signature_error(lambda: verify_standard(payload, headers, key, now=1_700_000_000))


@FUZZ
@given(
    payload=st.binary(max_size=100),
    ts=st.integers(0, 2**34),
    stripe_secret=st.one_of(
        st.just("whsec_right"), st.lists(st.just("whsec_right"), max_size=2), text_secrets
    ),
    std_secret=st.one_of(
        st.just(b"right key"), st.just("whsec_" + base64.b64encode(b"right key").decode()), standard_secrets
    ),
    tolerance=tolerances,
    now=nows,
)
def test_valid_headers_with_fuzzed_secrets_and_clocks(payload, ts, stripe_secret, std_secret, tolerance, now):
    """Well-formed, correctly signed headers: reaches the secret, comparison and time-window code."""
    header = sign_stripe(payload, "whsec_right", ts)
    assert_only_signature_error(
        lambda: verify_stripe(payload, header, stripe_secret, tolerance=tolerance, now=now)
    )
    headers = standard_headers("msg_1", ts, payload, b"right key")
    assert_only_signature_error(
        lambda: verify_standard(payload, headers, std_secret, tolerance=tolerance, now=now)
    )


# --- 2. round trips -------------------------------------------------------------------------------
secrets_text = st.text(min_size=1, max_size=40).filter(lambda s: s.strip(" \t\r\n\f\v"))
timestamps = st.integers(0, 10**12)
msg_ids = st.text(alphabet=[c for c in string.printable[:94] if c != "."], min_size=1, max_size=40)
standard_keys = st.binary(min_size=1, max_size=64)


@ROUND_TRIP
@given(payload=st.binary(max_size=500), secrets=st.lists(secrets_text, min_size=1, max_size=3), ts=timestamps)
def test_stripe_round_trip(payload, secrets, ts):
    header = sign_stripe(payload, secrets, ts)
    for secret in secrets:
        assert verify_stripe(payload, header, secret, now=ts) == ts
    assert verify_stripe(payload, header, ["whsec_unrelated", secrets[-1]], now=ts) == ts


@ROUND_TRIP
@given(
    payload=st.binary(max_size=500),
    msg_id=msg_ids,
    ts=timestamps,
    key=standard_keys,
    form=st.sampled_from(["prefixed", "bare", "unpadded", "raw"]),
)
def test_standard_round_trip(payload, msg_id, ts, key, form):
    encoded = base64.b64encode(key).decode()
    secret = {
        "prefixed": "whsec_" + encoded,
        "bare": encoded,
        "unpadded": "whsec_" + encoded.rstrip("="),
        "raw": key,
    }[form]
    headers = standard_headers(msg_id, ts, payload, secret)
    assert headers["webhook-signature"] == sign_standard(msg_id, ts, payload, key)
    assert verify_standard(payload, headers, secret, now=ts) == ts
    assert verify_standard(payload, {k.upper(): v for k, v in headers.items()}, [secret], now=ts) == ts


@ROUND_TRIP
@given(payload=st.binary(max_size=500), secret=secrets_text)
def test_github_round_trip(payload, secret):
    assert verify_github(payload, sign_github(payload, secret), secret) is None


@ROUND_TRIP
@given(payload=st.binary(min_size=1, max_size=200), secret=secrets_text, key=standard_keys, data=st.data())
def test_any_body_change_is_a_signature_mismatch(payload, secret, key, data):
    i = data.draw(st.integers(0, len(payload) - 1))
    change = data.draw(st.sampled_from(["flip", "drop", "insert"]))
    if change == "flip":
        altered = payload[:i] + bytes([payload[i] ^ data.draw(st.integers(1, 255))]) + payload[i + 1 :]
    elif change == "drop":
        altered = payload[:i] + payload[i + 1 :]
    else:
        altered = payload[:i] + data.draw(st.binary(min_size=1, max_size=3)) + payload[i:]
    ts = 1_700_000_000
    for call in (
        lambda: verify_stripe(altered, sign_stripe(payload, secret, ts), secret, now=ts),
        lambda: verify_standard(altered, standard_headers("msg_1", ts, payload, key), key, now=ts),
        lambda: verify_github(altered, sign_github(payload, secret), secret),
    ):
        err = assert_only_signature_error(call)
        assert isinstance(err, SignatureError)
        assert err.reason == SIGNATURE_MISMATCH
