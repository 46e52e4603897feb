"""Unit tests for hooklab.core.signing: published vectors, round trips, every reason, documented choices."""

from __future__ import annotations

import base64
import json
import pickle
import time
from pathlib import Path

import pytest

import hooklab.core.signing as signing
from hooklab.core.signing import (
    MALFORMED_HEADER,
    MALFORMED_PAYLOAD,
    MALFORMED_SECRET,
    MISSING_HEADER,
    MISSING_SECRET,
    NO_SIGNATURE_FOR_SCHEME,
    REASONS,
    SIGNATURE_MISMATCH,
    TIMESTAMP_TOO_NEW,
    TIMESTAMP_TOO_OLD,
    SignatureError,
    sign_github,
    sign_standard,
    sign_stripe,
    standard_headers,
    verify_github,
    verify_standard,
    verify_stripe,
)

# --- published vectors ----------------------------------------------------------------------------
# docs.github.com, "Validating webhook deliveries", "Testing the webhook payload validation".
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_PAYLOAD = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

# standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py::test_sign_function
# (the same vector appears in the libraries for every language).
STD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
STD_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
STD_TIMESTAMP = 1614265330
STD_PAYLOAD = b'{"test": 2432232314}'
STD_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

# Stripe publishes no fixed vector; this one was produced by stripe 16.1.0's
# WebhookSignature.generate_signature_header (tests/test_signing_differential.py re-derives it).
STRIPE_SECRET = "whsec_test_secret"
STRIPE_PAYLOAD = b'{"id": "evt_test_webhook", "object": "event"}'
STRIPE_TIMESTAMP = 1614265330
STRIPE_HEADER = "t=1614265330,v1=64776382e3b272a50ff9d6821bb74452794757d5dd79f1b091f36be25190d080"

NOW = 1_700_000_000
SECRET = "whsec_s3cr3t_for_tests"
BODY = '{"id": "evt_1", "type": "payment.succeeded", "amount": 4200, "note": "café ☕"}'.encode()


def reason(exc_info: pytest.ExceptionInfo[SignatureError]) -> str:
    return exc_info.value.reason


def stripe_error(payload, header, secret=SECRET, **kw) -> SignatureError:
    kw.setdefault("now", NOW)
    with pytest.raises(SignatureError) as exc_info:
        verify_stripe(payload, header, secret, **kw)
    assert exc_info.value.reason in REASONS
    assert exc_info.value.scheme == "stripe"
    return exc_info.value


def std_headers(payload=BODY, ts=NOW, msg_id="msg_1", secret=STD_SECRET) -> dict[str, str]:
    return standard_headers(msg_id, ts, payload, secret)


def standard_error(payload, headers, secret=STD_SECRET, **kw) -> SignatureError:
    kw.setdefault("now", NOW)
    with pytest.raises(SignatureError) as exc_info:
        verify_standard(payload, headers, secret, **kw)
    assert exc_info.value.reason in REASONS
    assert exc_info.value.scheme == "standard"
    return exc_info.value


def github_error(payload, header, secret=GITHUB_SECRET) -> SignatureError:
    with pytest.raises(SignatureError) as exc_info:
        verify_github(payload, header, secret)
    assert exc_info.value.reason in REASONS
    assert exc_info.value.scheme == "github"
    return exc_info.value


class TestPublishedVectors:
    def test_github_docs_example(self):
        assert sign_github(GITHUB_PAYLOAD, GITHUB_SECRET) == GITHUB_SIGNATURE
        assert verify_github(GITHUB_PAYLOAD, GITHUB_SIGNATURE, GITHUB_SECRET) is None
        assert verify_github("Hello, World!", GITHUB_SIGNATURE, GITHUB_SECRET) is None

    def test_standard_webhooks_spec_example(self):
        assert sign_standard(STD_MSG_ID, STD_TIMESTAMP, STD_PAYLOAD, STD_SECRET) == STD_SIGNATURE
        headers = standard_headers(STD_MSG_ID, STD_TIMESTAMP, STD_PAYLOAD, STD_SECRET)
        assert headers == {
            "webhook-id": STD_MSG_ID,
            "webhook-timestamp": "1614265330",
            "webhook-signature": STD_SIGNATURE,
        }
        assert verify_standard(STD_PAYLOAD, headers, STD_SECRET, now=STD_TIMESTAMP) == STD_TIMESTAMP

    def test_standard_secret_prefix_is_optional_and_bytes_are_the_raw_key(self):
        headers = standard_headers(STD_MSG_ID, STD_TIMESTAMP, STD_PAYLOAD, STD_SECRET)
        bare = STD_SECRET.removeprefix("whsec_")
        raw = base64.b64decode(bare)
        for secret in (bare, raw, bytearray(raw), f"{STD_SECRET}\n", f"{bare} \r\n"):
            assert verify_standard(STD_PAYLOAD, headers, secret, now=STD_TIMESTAMP) == STD_TIMESTAMP
        # Leading blanks are not stripped (the reference library does not recognise the prefix
        # behind them either): the secret is malformed.
        err = standard_error(STD_PAYLOAD, headers, f" {STD_SECRET}", now=STD_TIMESTAMP)
        assert err.reason == MALFORMED_SECRET
        assert sign_standard(STD_MSG_ID, STD_TIMESTAMP, STD_PAYLOAD, raw) == STD_SIGNATURE

    def test_standard_secret_padding_is_optional(self):
        key = b"short"  # base64 'c2hvcnQ=' needs padding
        padded = "whsec_" + base64.b64encode(key).decode()
        assert padded.endswith("=")
        headers = standard_headers("msg_1", NOW, BODY, padded)
        assert verify_standard(BODY, headers, padded.rstrip("="), now=NOW) == NOW
        assert verify_standard(BODY, headers, key, now=NOW) == NOW

    def test_stripe_vector(self):
        assert sign_stripe(STRIPE_PAYLOAD, STRIPE_SECRET, STRIPE_TIMESTAMP) == STRIPE_HEADER
        got = verify_stripe(STRIPE_PAYLOAD, STRIPE_HEADER, STRIPE_SECRET, now=STRIPE_TIMESTAMP)
        assert got == STRIPE_TIMESTAMP


class TestRoundTrips:
    @pytest.mark.parametrize("payload", [b"", b"{}", BODY, bytes(range(256)), b"x" * 100_000])
    def test_every_scheme(self, payload):
        assert verify_stripe(payload, sign_stripe(payload, SECRET, NOW), SECRET, now=NOW) == NOW
        headers = standard_headers("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", NOW, payload, STD_SECRET)
        assert verify_standard(payload, headers, STD_SECRET, now=NOW) == NOW
        assert verify_github(payload, sign_github(payload, SECRET), SECRET) is None

    def test_str_bytearray_and_memoryview_payloads(self):
        header = sign_stripe(BODY, SECRET, NOW)
        for payload in (BODY.decode(), bytearray(BODY), memoryview(BODY)):
            assert verify_stripe(payload, header, SECRET, now=NOW) == NOW
            assert verify_standard(payload, std_headers(), STD_SECRET, now=NOW) == NOW
            assert verify_github(payload, sign_github(BODY, SECRET), SECRET) is None
        assert sign_stripe(BODY.decode(), SECRET, NOW) == header

    def test_default_now_is_the_wall_clock(self):
        ts = int(time.time())
        assert verify_stripe(BODY, sign_stripe(BODY, SECRET, ts), SECRET) == ts
        assert verify_standard(BODY, std_headers(ts=ts), STD_SECRET) == ts
        old = ts - 3600
        assert stripe_error(BODY, sign_stripe(BODY, SECRET, old), now=None).reason == TIMESTAMP_TOO_OLD

    def test_non_ascii_secret_for_stripe_and_github(self):
        secret = "whsec_ключ_🔑"
        assert verify_stripe(BODY, sign_stripe(BODY, secret, NOW), secret, now=NOW) == NOW
        assert verify_github(BODY, sign_github(BODY, secret), secret) is None
        assert verify_github(BODY, sign_github(BODY, secret), secret.encode()) is None

    def test_returns_the_signed_timestamp_not_now(self):
        assert verify_stripe(BODY, sign_stripe(BODY, SECRET, NOW - 5), SECRET, now=NOW) == NOW - 5
        assert verify_standard(BODY, std_headers(ts=NOW + 5), STD_SECRET, now=NOW) == NOW + 5


class TestRotation:
    def test_stripe_header_with_two_v1_entries_matches_either_secret(self):
        header = sign_stripe(BODY, ["whsec_old", "whsec_new"], NOW)
        assert header.count(",v1=") == 2
        assert verify_stripe(BODY, header, "whsec_old", now=NOW) == NOW
        assert verify_stripe(BODY, header, "whsec_new", now=NOW) == NOW
        assert stripe_error(BODY, header, "whsec_other").reason == SIGNATURE_MISMATCH

    def test_stripe_receiver_side_list_of_secrets(self):
        header = sign_stripe(BODY, "whsec_new", NOW)
        for secrets in (["whsec_old", "whsec_new"], ("whsec_new",), ["whsec_new", b"whsec_x"]):
            assert verify_stripe(BODY, header, secrets, now=NOW) == NOW
        err = stripe_error(BODY, header, ["whsec_a", "whsec_b"])
        assert err.reason == SIGNATURE_MISMATCH
        assert "2 secrets" in str(err)

    def test_v1_entries_in_any_order_and_among_other_schemes(self):
        good = sign_stripe(BODY, SECRET, NOW).split(",")[1]
        bogus = "v1=" + "0" * 64
        v0 = "v0=" + "f" * 64
        for items in ([bogus, good], [good, bogus], [v0, good], [good, "foo=bar", v0, bogus]):
            header = ",".join([f"t={NOW}", *items])
            assert verify_stripe(BODY, header, SECRET, now=NOW) == NOW
            header = ",".join([*items, f"t={NOW}"])
            assert verify_stripe(BODY, header, SECRET, now=NOW) == NOW

    def test_v0_is_ignored_even_when_it_carries_the_right_hmac(self):
        right = sign_stripe(BODY, SECRET, NOW).split("v1=")[1]
        err = stripe_error(BODY, f"t={NOW},v0={right}")
        assert err.reason == NO_SIGNATURE_FOR_SCHEME

    def test_standard_several_entries_and_secrets(self):
        other = "whsec_" + base64.b64encode(b"another key of 24 bytes!").decode()
        headers = std_headers(secret=[other, STD_SECRET])
        assert len(headers["webhook-signature"].split(" ")) == 2
        assert verify_standard(BODY, headers, STD_SECRET, now=NOW) == NOW
        assert verify_standard(BODY, headers, other, now=NOW) == NOW
        headers = std_headers(secret=STD_SECRET)
        assert verify_standard(BODY, headers, [other, STD_SECRET], now=NOW) == NOW
        assert standard_error(BODY, headers, [other]).reason == SIGNATURE_MISMATCH

    def test_standard_ignores_other_versions(self):
        headers = std_headers()
        good = headers["webhook-signature"]
        value = good.split(",")[1]
        for extra in (f"v1a,{value}", "v2,abc", ",abc", "v1,AAAA"):
            headers["webhook-signature"] = f"{extra} {good}"
            assert verify_standard(BODY, headers, STD_SECRET, now=NOW) == NOW
        headers["webhook-signature"] = f"v1a,{value} v2,{value}"
        assert standard_error(BODY, headers).reason == NO_SIGNATURE_FOR_SCHEME

    def test_github_list_of_secrets(self):
        header = sign_github(BODY, "new")
        assert verify_github(BODY, header, ["old", "new"]) is None
        assert github_error(BODY, header, ["old"]).reason == SIGNATURE_MISMATCH


class TestTimestamps:
    def test_stripe_window_is_inclusive_in_both_directions(self):
        for ts in (NOW - 300, NOW, NOW + 300):
            assert verify_stripe(BODY, sign_stripe(BODY, SECRET, ts), SECRET, now=NOW) == ts
        assert stripe_error(BODY, sign_stripe(BODY, SECRET, NOW - 301)).reason == TIMESTAMP_TOO_OLD
        assert stripe_error(BODY, sign_stripe(BODY, SECRET, NOW + 301)).reason == TIMESTAMP_TOO_NEW

    def test_standard_window_is_inclusive_in_both_directions(self):
        for ts in (NOW - 300, NOW + 300):
            assert verify_standard(BODY, std_headers(ts=ts), STD_SECRET, now=NOW) == ts
        assert standard_error(BODY, std_headers(ts=NOW - 301)).reason == TIMESTAMP_TOO_OLD
        assert standard_error(BODY, std_headers(ts=NOW + 301)).reason == TIMESTAMP_TOO_NEW

    def test_fractional_now_and_custom_tolerance(self):
        header = sign_stripe(BODY, SECRET, NOW)
        assert verify_stripe(BODY, header, SECRET, now=NOW + 9.5, tolerance=10) == NOW
        err = stripe_error(BODY, header, now=NOW + 10.5, tolerance=10)
        assert err.reason == TIMESTAMP_TOO_OLD
        assert "tolerance 10 s" in str(err)
        assert verify_stripe(BODY, header, SECRET, now=NOW - 0.5, tolerance=0.75) == NOW

    def test_tolerance_none_disables_the_time_check(self):
        for ts in (0, NOW - 10**8, NOW + 10**8):
            got = verify_stripe(BODY, sign_stripe(BODY, SECRET, ts), SECRET, tolerance=None, now=NOW)
            assert got == ts
            got = verify_standard(BODY, std_headers(ts=ts), STD_SECRET, tolerance=None, now=NOW)
            assert got == ts

    @pytest.mark.parametrize("tolerance", [0, -1, 0.0, -0.5, float("nan"), True, False, "300", [300]])
    def test_tolerance_must_be_positive_or_none(self, tolerance):
        header = sign_stripe(BODY, SECRET, NOW)
        with pytest.raises(ValueError, match="tolerance must be a positive number") as exc_info:
            verify_stripe(BODY, header, SECRET, tolerance=tolerance, now=NOW)
        assert not isinstance(exc_info.value, SignatureError)
        with pytest.raises(ValueError, match="tolerance must be a positive number"):
            verify_standard(BODY, std_headers(), STD_SECRET, tolerance=tolerance, now=NOW)

    def test_configuration_errors_do_not_depend_on_the_request(self):
        with pytest.raises(ValueError, match="tolerance"):
            verify_stripe(None, None, None, tolerance=0)
        with pytest.raises(TypeError, match="now must be"):
            verify_stripe(None, None, None, now="now")

    @pytest.mark.parametrize("now", ["1700000000", float("nan"), True, [NOW]])
    def test_now_must_be_a_number(self, now):
        with pytest.raises(TypeError, match="now must be"):
            verify_stripe(BODY, sign_stripe(BODY, SECRET, NOW), SECRET, now=now)
        with pytest.raises(TypeError, match="now must be"):
            verify_standard(BODY, std_headers(), STD_SECRET, now=now)

    def test_signature_is_checked_before_time(self):
        """A forged, stale request reports the forgery, not the age."""
        header = sign_stripe(BODY, "whsec_attacker", NOW - 10_000)
        assert stripe_error(BODY, header).reason == SIGNATURE_MISMATCH
        headers = std_headers(ts=NOW + 10_000)
        assert standard_error(BODY + b" ", headers).reason == SIGNATURE_MISMATCH

    def test_replaying_with_a_fresh_timestamp_fails(self):
        old = sign_stripe(BODY, SECRET, NOW - 3600)
        replay = old.replace(f"t={NOW - 3600}", f"t={NOW}")
        assert stripe_error(BODY, replay).reason == SIGNATURE_MISMATCH
        headers = std_headers(ts=NOW - 3600)
        headers["webhook-timestamp"] = str(NOW)
        assert standard_error(BODY, headers).reason == SIGNATURE_MISMATCH

    def test_leading_zeros_sign_the_decimal_value(self):
        header = sign_stripe(BODY, SECRET, NOW).replace("t=", "t=00")
        assert verify_stripe(BODY, header, SECRET, now=NOW) == NOW
        headers = std_headers()
        headers["webhook-timestamp"] = "0" + headers["webhook-timestamp"]
        assert verify_standard(BODY, headers, STD_SECRET, now=NOW) == NOW

    @pytest.mark.parametrize(
        "ts_text",
        ["", " 1700000000", "1700000000 ", "+1700000000", "-5", "1700000000.0", "1.7e9", "1_700_000_000"]
        + ["١٧٠٠٠٠٠٠٠٠", "1" * 19, "0x6553f100", "abc"],
    )
    def test_timestamps_must_be_ascii_digits(self, ts_text):
        v1 = sign_stripe(BODY, SECRET, NOW).split(",")[1]
        assert stripe_error(BODY, f"t={ts_text},{v1}").reason == MALFORMED_HEADER
        headers = std_headers()
        headers["webhook-timestamp"] = ts_text
        expected = MISSING_HEADER if ts_text == "" else MALFORMED_HEADER
        assert standard_error(BODY, headers).reason == expected

    def test_eighteen_digits_is_a_timestamp_too_new(self):
        ts = 10**17
        header = sign_stripe(BODY, SECRET, ts)
        assert stripe_error(BODY, header).reason == TIMESTAMP_TOO_NEW
        assert verify_stripe(BODY, header, SECRET, tolerance=None) == ts

    def test_first_t_counts(self):
        header = sign_stripe(BODY, SECRET, NOW)
        assert verify_stripe(BODY, header + ",t=garbage", SECRET, now=NOW) == NOW
        v1 = header.split(",")[1]
        assert stripe_error(BODY, f"t={NOW + 1},{v1},t={NOW}").reason == SIGNATURE_MISMATCH


class TestBodyIntegrity:
    def test_reserialised_json_fails(self):
        body = json.dumps({"id": "evt_1", "amount": 4200, "note": "café"}, ensure_ascii=False).encode()
        for altered in (
            json.dumps(json.loads(body)).encode(),  # ensure_ascii: \u00e9
            json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode(),
            json.dumps(json.loads(body), sort_keys=True, indent=2, ensure_ascii=False).encode(),
        ):
            assert altered != body
            err = stripe_error(altered, sign_stripe(body, SECRET, NOW))
            assert err.reason == SIGNATURE_MISMATCH
            assert "re-serialised JSON" in str(err)
            assert standard_error(altered, std_headers(payload=body)).reason == SIGNATURE_MISMATCH
            assert github_error(altered, sign_github(body, GITHUB_SECRET)).reason == SIGNATURE_MISMATCH

    @pytest.mark.parametrize("where", [0, 10, -1])
    def test_one_flipped_byte_fails(self, where):
        altered = bytearray(BODY)
        altered[where] ^= 0x01
        assert stripe_error(bytes(altered), sign_stripe(BODY, SECRET, NOW)).reason == SIGNATURE_MISMATCH
        assert standard_error(bytes(altered), std_headers()).reason == SIGNATURE_MISMATCH

    def test_standard_signature_covers_id_and_timestamp(self):
        headers = std_headers()
        headers["webhook-id"] = "msg_2"
        assert standard_error(BODY, headers).reason == SIGNATURE_MISMATCH
        headers = std_headers()
        headers["webhook-timestamp"] = str(NOW + 1)
        assert standard_error(BODY, headers).reason == SIGNATURE_MISMATCH

    def test_non_utf8_body_is_signed_as_bytes(self):
        body = b"\xff\xfe\x00 not utf-8 \xc3"
        assert verify_stripe(body, sign_stripe(body, SECRET, NOW), SECRET, now=NOW) == NOW
        assert verify_standard(body, std_headers(payload=body), STD_SECRET, now=NOW) == NOW


class TestReasonsStripe:
    def test_missing_header(self):
        for header in (None, ""):
            err = stripe_error(BODY, header)
            assert err.reason == MISSING_HEADER
            assert "Stripe-Signature" in str(err)

    @pytest.mark.parametrize(
        "header",
        [123, b"t=1,v1=ab", ["t=1"], "garbage", "t", "t,v1=ab", f"t={NOW},v1", "v1=ab", "T=1,v1=ab"]
        + [" t=1,v1=ab", "t=1=2,v1=ab", "t=,v1=ab", "\x00" * 10, "t=\u00b9,v1=ab"],
    )
    def test_malformed_header(self, header):
        err = stripe_error(BODY, header)
        assert err.reason == MALFORMED_HEADER
        assert len(str(err)) < 400  # untrusted input is clipped in messages

    @pytest.mark.parametrize("header", [f"t={NOW}", f"t={NOW},v0=abc", f"t={NOW},V1=abc", f"t={NOW}, v1=ab"])
    def test_no_signature_for_scheme(self, header):
        assert stripe_error(BODY, header).reason == NO_SIGNATURE_FOR_SCHEME

    def test_signature_mismatch(self):
        header = sign_stripe(BODY, SECRET, NOW)
        v1 = header.split("v1=")[1]
        for bad in (
            header.upper().replace("T=", "t=").replace("V1=", "v1="),  # uppercase hex
            header + " ",
            f"t={NOW},v1= {v1}",
            f"t={NOW},v1={v1}=",
            f"t={NOW},v1={v1[:-1]}",
            f"t={NOW},v1=",
            f"t={NOW},v1=é{v1[1:]}",
            f"t={NOW},v1=" + "\ud800" * 64,
        ):
            err = stripe_error(BODY, bad)
            assert err.reason == SIGNATURE_MISMATCH, bad
        err = stripe_error(BODY, header, secret="whsec_wrong")
        assert "raw request body" in str(err)
        assert "secret" in str(err)

    def test_timestamp_too_old_and_too_new(self):
        err = stripe_error(BODY, sign_stripe(BODY, SECRET, NOW - 1000))
        assert err.reason == TIMESTAMP_TOO_OLD
        assert "1000 s before now" in str(err)
        assert "clock" in str(err)
        err = stripe_error(BODY, sign_stripe(BODY, SECRET, NOW + 1000))
        assert err.reason == TIMESTAMP_TOO_NEW
        assert "1000 s after now" in str(err)

    @pytest.mark.parametrize("secret", [None, "", "   ", " \t\r\n", [], (), [""], ["ok", " "], b"", b" "])
    def test_missing_secret(self, secret):
        err = stripe_error(BODY, sign_stripe(BODY, SECRET, NOW), secret)
        assert err.reason == MISSING_SECRET

    @pytest.mark.parametrize(
        "secret", [123, 1.5, {"a": 1}, {"s"}, ["ok", 5], [["nested"]], "\ud800", object()]
    )
    def test_malformed_secret(self, secret):
        err = stripe_error(BODY, sign_stripe(BODY, SECRET, NOW), secret)
        assert err.reason == MALFORMED_SECRET
        assert "\ud800" not in str(err)  # secrets are never echoed

    @pytest.mark.parametrize("payload", [None, 123, ["x"], {"id": 1}, "\ud800", 1.5])
    def test_malformed_payload(self, payload):
        err = stripe_error(payload, sign_stripe(BODY, SECRET, NOW))
        assert err.reason == MALFORMED_PAYLOAD
        assert "raw request body" in str(err)

    def test_released_memoryview_is_a_malformed_payload(self):
        view = memoryview(bytearray(BODY))
        view.release()
        assert stripe_error(view, sign_stripe(BODY, SECRET, NOW)).reason == MALFORMED_PAYLOAD


class TestReasonsStandard:
    def test_missing_header(self):
        full = std_headers()
        assert standard_error(BODY, None).reason == MISSING_HEADER
        assert standard_error(BODY, {}).reason == MISSING_HEADER
        for name in full:
            headers = dict(full)
            del headers[name]
            err = standard_error(BODY, headers)
            assert err.reason == MISSING_HEADER
            assert name in str(err)
            headers[name] = ""
            assert standard_error(BODY, headers).reason == MISSING_HEADER

    @pytest.mark.parametrize("headers", [[("webhook-id", "x")], "webhook-id: x", 123, b"abc", object()])
    def test_headers_that_are_not_a_mapping(self, headers):
        assert standard_error(BODY, headers).reason == MALFORMED_HEADER

    def test_broken_mapping(self):
        class Broken(dict):
            def items(self):
                raise RuntimeError("boom")

        assert standard_error(BODY, Broken()).reason == MALFORMED_HEADER

    @pytest.mark.parametrize("value", [123, b"msg_1", ["msg_1"], 1.5])
    def test_header_values_must_be_str(self, value):
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            headers = std_headers()
            headers[name] = value
            err = standard_error(BODY, headers)
            assert err.reason == MALFORMED_HEADER
            assert name in str(err)

    @pytest.mark.parametrize(
        "signature", ["v1", "v1abc", "v1,a,b", "v1,abc v1", "abc", "v1;abc", "v1,AA== nocomma"]
    )
    def test_malformed_signature_entries(self, signature):
        headers = std_headers()
        headers["webhook-signature"] = signature
        assert standard_error(BODY, headers).reason == MALFORMED_HEADER

    def test_a_malformed_entry_spoils_the_header_even_after_a_valid_one(self):
        headers = std_headers()
        headers["webhook-signature"] += " garbage"
        assert standard_error(BODY, headers).reason == MALFORMED_HEADER

    def test_same_header_twice_with_different_values(self):
        headers = std_headers()
        headers["Webhook-Signature"] = "v1,AAAA"
        err = standard_error(BODY, headers)
        assert err.reason == MALFORMED_HEADER
        assert "more than once" in str(err)
        headers["Webhook-Signature"] = headers["webhook-signature"]  # same value twice is fine
        assert verify_standard(BODY, headers, STD_SECRET, now=NOW) == NOW

    def test_msg_id_with_lone_surrogate(self):
        headers = std_headers()
        headers["webhook-id"] = "msg_\ud800"
        assert standard_error(BODY, headers).reason == MALFORMED_HEADER

    @pytest.mark.parametrize("signature", ["v1a,abc", "v2,abc", "V1,abc", ",abc", "   "])
    def test_no_signature_for_scheme(self, signature):
        headers = std_headers()
        headers["webhook-signature"] = signature
        expected = NO_SIGNATURE_FOR_SCHEME
        assert standard_error(BODY, headers).reason == expected

    def test_signature_mismatch_variants(self):
        good = std_headers()["webhook-signature"]
        value = good.removeprefix("v1,")
        for bad in (
            "v1," + value.swapcase(),
            "v1," + value.rstrip("="),  # unpadded: not the canonical text
            "v1," + value[:10] + "!" + value[10:],
            "v1," + base64.urlsafe_b64encode(base64.b64decode(value)).decode() + "x",
            "v1,",
            "v1,é" + value,
        ):
            headers = std_headers()
            headers["webhook-signature"] = bad
            assert standard_error(BODY, headers).reason == SIGNATURE_MISMATCH, bad
        other = "whsec_" + base64.b64encode(b"x" * 24).decode()
        assert standard_error(BODY, std_headers(), other).reason == SIGNATURE_MISMATCH

    def test_timestamp_too_old_and_too_new(self):
        assert standard_error(BODY, std_headers(ts=NOW - 301)).reason == TIMESTAMP_TOO_OLD
        assert standard_error(BODY, std_headers(ts=NOW + 301)).reason == TIMESTAMP_TOO_NEW

    @pytest.mark.parametrize("secret", [None, "", "whsec_", "whsec_ \n", " \t", [], [""], b"", ["whsec_"]])
    def test_missing_secret(self, secret):
        assert standard_error(BODY, std_headers(), secret).reason == MISSING_SECRET

    @pytest.mark.parametrize(
        "secret",
        ["whsec_not base64!", "whsec_ab-_cd", "whsec_abcde", "whsec_====", "whsec_ab=c", "whsec_ключ"]
        + ["whsec_\ud800", 123, ["whsec_ok", 5], [[STD_SECRET]], object()],
    )
    def test_malformed_secret(self, secret):
        err = standard_error(BODY, std_headers(), secret)
        assert err.reason == MALFORMED_SECRET

    def test_malformed_secret_message_does_not_echo_the_secret(self):
        err = standard_error(BODY, std_headers(), "whsec_TOPSECRET!!")
        assert "TOPSECRET" not in str(err)
        assert "base64" in str(err)

    def test_a_stripe_style_secret_is_not_a_standard_secret(self):
        """Stripe secrets are 'whsec_' + alphanumerics: often valid base64, but the wrong key."""
        stripe_secret = "whsec_" + "a1B2" * 8
        headers = std_headers(secret=STD_SECRET)
        assert standard_error(BODY, headers, stripe_secret).reason == SIGNATURE_MISMATCH

    @pytest.mark.parametrize("payload", [None, 123, "\udfff"])
    def test_malformed_payload(self, payload):
        assert standard_error(payload, std_headers()).reason == MALFORMED_PAYLOAD


class TestStandardHeaderLookup:
    @pytest.mark.parametrize("case", [str.lower, str.upper, str.title, lambda s: s[:1].upper() + s[1:]])
    def test_names_are_case_insensitive(self, case):
        headers = {case(k): v for k, v in std_headers().items()}
        assert verify_standard(BODY, headers, STD_SECRET, now=NOW) == NOW

    def test_svix_prefixed_names(self):
        headers = {k.replace("webhook-", "svix-"): v for k, v in std_headers().items()}
        assert verify_standard(BODY, headers, STD_SECRET, now=NOW) == NOW
        upper = {k.upper(): v for k, v in headers.items()}
        assert verify_standard(BODY, upper, STD_SECRET, now=NOW) == NOW

    def test_families_are_not_mixed(self):
        headers = std_headers()
        mixed = {"webhook-id": headers["webhook-id"], "svix-timestamp": headers["webhook-timestamp"]}
        mixed["webhook-signature"] = headers["webhook-signature"]
        err = standard_error(BODY, mixed)
        assert err.reason == MISSING_HEADER
        assert "webhook-timestamp" in str(err)

    def test_webhook_family_wins_over_svix(self):
        headers = std_headers()
        headers.update({"svix-id": "other", "svix-timestamp": "1", "svix-signature": "v1,AAAA"})
        assert verify_standard(BODY, headers, STD_SECRET, now=NOW) == NOW

    def test_other_headers_and_non_str_names_are_ignored(self):
        headers = {b"webhook-id": b"x", 7: None, "content-type": "application/json", **std_headers()}
        assert verify_standard(BODY, headers, STD_SECRET, now=NOW) == NOW

    def test_starlette_and_httpx_header_objects(self):
        import httpx
        from starlette.datastructures import Headers as StarletteHeaders

        raw = std_headers()
        assert verify_standard(BODY, StarletteHeaders(raw), STD_SECRET, now=NOW) == NOW
        assert verify_standard(BODY, httpx.Headers(raw), STD_SECRET, now=NOW) == NOW
        duplicated = [(k.encode(), v.encode()) for k, v in raw.items()]
        duplicated.append((b"webhook-signature", b"v1,AAAA"))
        err = standard_error(BODY, StarletteHeaders(raw=duplicated))
        assert err.reason == MALFORMED_HEADER

    @pytest.mark.parametrize("spacing", ["{a} {b}", "{a}  {b}", " {a} {b}", "{a} {b} ", "  {b}  {a}  "])
    def test_spaces_between_signature_entries(self, spacing):
        headers = std_headers()
        good = headers["webhook-signature"]
        headers["webhook-signature"] = spacing.format(a="v1,AAAA", b=good)
        assert verify_standard(BODY, headers, STD_SECRET, now=NOW) == NOW

    def test_tab_is_not_a_separator(self):
        headers = std_headers()
        headers["webhook-signature"] = "v1,AAAA\t" + headers["webhook-signature"]
        assert standard_error(BODY, headers).reason == MALFORMED_HEADER


class TestReasonsGithub:
    def test_missing_header(self):
        for header in (None, ""):
            err = github_error(GITHUB_PAYLOAD, header)
            assert err.reason == MISSING_HEADER
            assert "X-Hub-Signature-256" in str(err)

    @pytest.mark.parametrize(
        "header",
        [123, GITHUB_SIGNATURE.encode(), "757107ea", "sha256=xyz", "sha256=", "sha256=" + "a" * 63]
        + [GITHUB_SIGNATURE.upper().replace("SHA256", "sha256"), GITHUB_SIGNATURE + " ", "sha256=é"],
    )
    def test_malformed_header(self, header):
        assert github_error(GITHUB_PAYLOAD, header).reason == MALFORMED_HEADER

    @pytest.mark.parametrize("header", ["sha1=0123", "SHA256=" + "a" * 64, " sha256=" + "a" * 64, "=x"])
    def test_no_signature_for_scheme(self, header):
        assert github_error(GITHUB_PAYLOAD, header).reason == NO_SIGNATURE_FOR_SCHEME

    def test_sha1_header_gets_a_hint(self):
        err = github_error(GITHUB_PAYLOAD, "sha1=01dc10d0c83e72ed246219cdd91669867fdc8da0")
        assert "X-Hub-Signature-256" in str(err)

    def test_signature_mismatch(self):
        assert github_error(b"Hello, World?", GITHUB_SIGNATURE).reason == SIGNATURE_MISMATCH
        assert github_error(GITHUB_PAYLOAD, GITHUB_SIGNATURE, "wrong").reason == SIGNATURE_MISMATCH
        assert github_error(GITHUB_PAYLOAD, "sha256=" + "0" * 64).reason == SIGNATURE_MISMATCH

    @pytest.mark.parametrize("secret", [None, "", " ", []])
    def test_missing_secret(self, secret):
        assert github_error(GITHUB_PAYLOAD, GITHUB_SIGNATURE, secret).reason == MISSING_SECRET

    @pytest.mark.parametrize("secret", [42, "\udc80", [None]])
    def test_malformed_secret(self, secret):
        expected = MISSING_SECRET if secret == [None] else MALFORMED_SECRET
        assert github_error(GITHUB_PAYLOAD, GITHUB_SIGNATURE, secret).reason == expected

    @pytest.mark.parametrize("payload", [None, 0, "\ud800"])
    def test_malformed_payload(self, payload):
        assert github_error(payload, GITHUB_SIGNATURE).reason == MALFORMED_PAYLOAD


class TestSigningArguments:
    def test_sign_stripe_rejects_bad_arguments(self):
        with pytest.raises(TypeError):
            sign_stripe(None, SECRET, NOW)
        with pytest.raises(TypeError):
            sign_stripe(BODY, SECRET, "1700000000")
        with pytest.raises(TypeError):
            sign_stripe(BODY, SECRET, True)
        with pytest.raises(TypeError):
            sign_stripe(BODY, SECRET, 1.5)
        with pytest.raises(ValueError):
            sign_stripe(BODY, SECRET, -1)
        with pytest.raises(ValueError):
            sign_stripe(BODY, "", NOW)
        with pytest.raises(ValueError):
            sign_stripe(BODY, [], NOW)
        with pytest.raises(TypeError):
            sign_stripe(BODY, None, NOW)

    def test_sign_standard_rejects_bad_arguments(self):
        with pytest.raises(TypeError):
            sign_standard(None, NOW, BODY, STD_SECRET)
        for msg_id in ("", "msg.1", "msg 1", "msg\r\n1", "msg_é"):
            with pytest.raises(ValueError, match="msg_id"):
                sign_standard(msg_id, NOW, BODY, STD_SECRET)
        with pytest.raises(ValueError):
            sign_standard("msg_1", NOW, BODY, "whsec_not base64!")
        with pytest.raises(ValueError):
            sign_standard("msg_1", -5, BODY, STD_SECRET)
        with pytest.raises(TypeError):
            sign_standard("msg_1", NOW, 42, STD_SECRET)

    def test_sign_github_rejects_bad_arguments(self):
        with pytest.raises(TypeError):
            sign_github(BODY, ["a", "b"])
        with pytest.raises(ValueError):
            sign_github(BODY, " ")
        with pytest.raises(TypeError):
            sign_github(object(), "s")


class TestErrorType:
    def test_reasons_set(self):
        assert {
            "missing_header",
            "malformed_header",
            "no_signature_for_scheme",
            "signature_mismatch",
            "timestamp_too_old",
            "timestamp_too_new",
            "missing_secret",
            "malformed_secret",
            "malformed_payload",
        } == REASONS
        assert isinstance(REASONS, frozenset)

    def test_is_a_value_error_and_pickles(self):
        err = stripe_error(BODY, "t=1,v1=00")
        assert isinstance(err, ValueError)
        clone = pickle.loads(pickle.dumps(err))
        assert (clone.reason, str(clone), clone.scheme) == (err.reason, str(err), err.scheme)
        assert repr(err).startswith("SignatureError('signature_mismatch'")

    def test_unknown_reason_is_a_programming_error(self):
        with pytest.raises(AssertionError):
            SignatureError("nope", "message")

    def test_every_reason_is_reachable_from_each_verify_function(self):
        """Each reason above is triggered somewhere in this file; here, one call each, in one place."""
        seen = set()
        for call in (
            lambda: verify_stripe(BODY, None, SECRET),
            lambda: verify_stripe(BODY, "x", SECRET),
            lambda: verify_stripe(BODY, "t=1", SECRET),
            lambda: verify_stripe(BODY, "t=1,v1=0", SECRET),
            lambda: verify_stripe(BODY, sign_stripe(BODY, SECRET, 1), SECRET, now=NOW),
            lambda: verify_stripe(BODY, sign_stripe(BODY, SECRET, NOW), SECRET, now=1),
            lambda: verify_stripe(BODY, "t=1,v1=0", None),
            lambda: verify_stripe(BODY, "t=1,v1=0", 5),
            lambda: verify_stripe(None, "t=1,v1=0", SECRET),
        ):
            with pytest.raises(SignatureError) as exc_info:
                call()
            seen.add(exc_info.value.reason)
        assert seen == REASONS


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


class TestDocumentation:
    def test_module_docstring_names_the_notebook_and_every_scheme(self):
        doc = signing.__doc__
        for word in ("Stripe-Signature", "webhook-signature", "X-Hub-Signature-256", "whsec_"):
            assert word in doc

    @pytest.mark.parametrize("name", [n for n in signing.__all__ if n[0].islower()])
    def test_public_functions_have_docstrings_and_a_notebook_that_uses_them(self, name):
        from hooklab.lab.notebook_tools import introductions

        assert getattr(signing, name).__doc__
        assert introductions(NOTEBOOKS)[name] in ("02-webhooks.ipynb", "03-signature-verification.ipynb")

    def test_docstring_examples(self):
        import doctest

        result = doctest.testmod(signing, verbose=False)
        assert result.attempted >= 2
        assert result.failed == 0
