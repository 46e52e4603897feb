"""How fast is hooklab.core.signing? Verify one 1 KB webhook, side by side with the reference libraries.

Rows, all verifying the same valid 1024-byte JSON delivery (signed "now", so every time check
passes):

  (a) bare:  hmac.new(key, b"<t>." + body, sha256).hexdigest() + hmac.compare_digest -- the
      cryptographic floor, with no header parsing and no checks;
  (b) hooklab.core.signing.verify_stripe;
  (c) stripe.WebhookSignature.verify_header (stripe's official library);
  (d) hooklab.core.signing.verify_standard;
  (e) standardwebhooks.Webhook(secret).verify(body, headers) -- the reference library as its README
      uses it; (e') the same with a Webhook built once and json_parse=False, its fastest form;
  (f) hooklab.core.signing.verify_github (no reference library; compare with (a)).

Rows are timed with timeit in interleaved rounds (a round times every row once), and the best
round counts, so drift in CPU frequency hits every row alike. Runs in a few seconds.

    python benchmarks/bench_signing.py            # print the table
    python benchmarks/bench_signing.py --check    # also exit 1 if hooklab is slower than a reference
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import platform
import ssl
import sys
import time
import timeit
from importlib.metadata import version

import standardwebhooks
import stripe

from hooklab.core.signing import (
    sign_github,
    sign_stripe,
    standard_headers,
    verify_github,
    verify_standard,
    verify_stripe,
)

STRIPE_SECRET = "whsec_5WbX5kEWLlfzsGNjH64I8lOOqUB6e8FH"
STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
GITHUB_SECRET = "It's a Secret to Everybody"


def payload_of(size: int) -> bytes:
    """A JSON event of exactly ``size`` bytes (deterministic)."""
    event = {
        "id": "evt_1Nq",
        "type": "payment.succeeded",
        "data": {"object": {"id": "pay_1", "amount": 4200}},
    }
    event["data"]["object"]["description"] = ""
    filler = size - len(json.dumps(event).encode())
    if filler < 0:
        raise SystemExit(f"--size must be at least {size - filler}")
    event["data"]["object"]["description"] = ("order 1234, café latte x2; " * (filler // 20 + 1))[:filler]
    body = json.dumps(event, ensure_ascii=False).encode()
    while len(body) > size:  # non-ASCII characters take two bytes: trim to the exact size
        event["data"]["object"]["description"] = event["data"]["object"]["description"][:-1]
        body = json.dumps(event, ensure_ascii=False).encode()
    return body + b" " * (size - len(body))


def build_cases(body: bytes) -> list[tuple[str, str, object]]:
    ts = int(time.time())
    stripe_header = sign_stripe(body, STRIPE_SECRET, ts)
    key = STRIPE_SECRET.encode()
    signed_prefix = b"%d." % ts
    expected_hex = stripe_header.split("v1=")[1]
    headers = standard_headers("msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body, STANDARD_SECRET)
    prebuilt = standardwebhooks.Webhook(STANDARD_SECRET)
    github_header = sign_github(body, GITHUB_SECRET)

    def bare():
        return hmac.compare_digest(
            hmac.new(key, signed_prefix + body, hashlib.sha256).hexdigest(), expected_hex
        )

    return [
        ("a", "bare hmac.new().hexdigest() + compare_digest", bare),
        ("b", "hooklab verify_stripe", lambda: verify_stripe(body, stripe_header, STRIPE_SECRET)),
        (
            "c",
            "stripe WebhookSignature.verify_header",
            lambda: stripe.WebhookSignature.verify_header(body, stripe_header, STRIPE_SECRET, 300),
        ),
        ("d", "hooklab verify_standard", lambda: verify_standard(body, headers, STANDARD_SECRET)),
        (
            "e",
            "standardwebhooks Webhook(secret).verify",
            lambda: standardwebhooks.Webhook(STANDARD_SECRET).verify(body, headers),
        ),
        (
            "e'",
            "  same, Webhook built once, json_parse=False",
            lambda: prebuilt.verify(body, headers, json_parse=False),
        ),
        ("f", "hooklab verify_github", lambda: verify_github(body, github_header, GITHUB_SECRET)),
    ]


def measure(cases, rounds: int, target_s: float) -> dict[str, float]:
    """Best seconds per call for each case, over interleaved rounds."""
    timers = {}
    for label, _, func in cases:
        result = func()  # also a sanity check: every case must verify successfully
        if result is False:
            raise SystemExit(f"case {label} did not verify")
        timer = timeit.Timer(func)
        number, took = timer.autorange()
        timers[label] = (timer, max(1, int(number * target_s / took)))
    best = dict.fromkeys(timers, float("inf"))
    for _ in range(rounds):
        for label, (timer, number) in timers.items():
            best[label] = min(best[label], timer.timeit(number) / number)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1024, help="payload size in bytes (default 1024)")
    parser.add_argument(
        "--rounds", type=int, default=7, help="interleaved rounds; the best counts (default 7)"
    )
    parser.add_argument("--round-ms", type=float, default=40, help="time per row per round, ms (default 40)")
    parser.add_argument("--check", action="store_true", help="exit 1 if hooklab is slower than a reference")
    args = parser.parse_args(argv)

    body = payload_of(args.size)
    cases = build_cases(body)
    started = time.perf_counter()
    best = measure(cases, args.rounds, args.round_ms / 1000)
    elapsed = time.perf_counter() - started

    print(
        f"Verify one {len(body)}-byte webhook: microseconds per call, best of {args.rounds} interleaved rounds"
    )
    print(
        f"Python {platform.python_version()}, {ssl.OPENSSL_VERSION}, stripe {version('stripe')}, "
        f"standardwebhooks {version('standardwebhooks')}"
    )
    print()
    width = max(len(title) for _, title, _ in cases) + 6
    print(f"{'case':<{width}} {'us/verify':>10} {'x bare (a)':>11}")
    print("-" * (width + 23))
    for label, title, _ in cases:
        us = best[label] * 1e6
        print(f"{f'({label})':<5} {title:<{width - 6}} {us:>10.2f} {best[label] / best['a']:>11.2f}")
    print()

    verdicts = []

    def compare(ours: str, refs: list[str], scheme: str) -> None:
        ref = min(refs, key=best.__getitem__)
        ratio = best[ref] / best[ours]
        faster = ratio >= 1.0
        word = "FASTER" if faster else "SLOWER"
        print(
            f"{scheme:<18} hooklab ({ours}) {best[ours] * 1e6:6.2f} us vs ({ref}) {best[ref] * 1e6:6.2f} us: "
            f"hooklab is {word} ({ratio:.2f}x the speed of the fastest reference)"
        )
        verdicts.append(faster)

    compare("b", ["c"], "Stripe:")
    compare("d", ["e", "e'"], "Standard Webhooks:")
    ratio = best["f"] / best["a"]
    print(
        f"{'GitHub:':<18} hooklab (f) {best['f'] * 1e6:6.2f} us = {ratio:.2f}x the bare baseline (a); no reference"
    )
    print(f"\n(measured in {elapsed:.1f} s)")
    if args.check and not all(verdicts):
        print("FAIL: hooklab is slower than a reference implementation", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
