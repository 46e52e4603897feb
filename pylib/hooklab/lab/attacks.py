"""Attacking System A's webhook endpoint, and the small tools notebook 03 shows it with.

A webhook endpoint is a public URL. This module plays the attacker against a *live* System A:
it captures one genuine delivery from System B (as a proxy log or a leaked request dump would),
then sends A requests that are unsigned, forged with a guessed secret, tampered with, re-dated and
replayed, and tabulates what A answered. Nothing here weakens A: every request goes through A's
real endpoint and real verifier.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import timeit
from collections.abc import Callable, Iterable, Iterator

import httpx
import pandas as pd

from hooklab.core.contract import SENDER_HEADER, SIGNATURE_HEADER
from hooklab.core.provider import SettlementModel
from hooklab.core.shop import Shop
from hooklab.core.signing import DEFAULT_TOLERANCE, SignatureError, sign_stripe, verify_stripe
from hooklab.lab.pair import CapturedRequest, RecordingApp, WebhookPair, signed_timestamp, webhook_pair
from hooklab.live.clocks import ShiftableClock

__all__ = [
    "ATTACKER", "DECLINED", "DESCRIPTIONS", "CapturedRequest", "RecordingApp", "ShiftableClock",
    "attack_requests", "compare_timings", "late_replays", "live_pair", "outcome", "replay_window",
    "run_attacks", "signed_timestamp", "verdict", "with_timestamp",
]  # fmt: skip

#: What the attacker's requests call themselves in A's request log (``Hooklab-Sender``). That
#: header is a label for the log, not a credential: anyone can set it to anything.
ATTACKER = "attacker"

#: Every payment is declined in the attack demo, so a forged "succeeded" is worth something.
DECLINED = SettlementModel(mean_s=0.2, min_s=0.05, failure_share=1.0)


def _merged(headers: dict[str, str], updates: dict[str, str]) -> dict[str, str]:
    """``headers`` updated with ``updates``; names compared case-insensitively, as HTTP does."""
    out = {k.lower(): v for k, v in headers.items()}
    out.update({k.lower(): v for k, v in updates.items()})
    return out


def outcome(answer: dict) -> str:
    """One word for what A answered (its JSON body): the error ``reason`` (or ``code`` if the
    error has none), else ``"duplicate"`` or ``"accepted"``."""
    error = answer.get("error")
    if error is not None:
        return error.get("reason") or error["code"]
    return "duplicate" if answer.get("duplicate") else "accepted"


def verdict(verify: Callable[..., object], *args: object, **kwargs: object) -> str:
    """Run a verify function: ``"accepted"`` if it passes, else the :class:`SignatureError` reason.

    ``verdict(verify_stripe, body, header, secret, now=t)`` -> ``"accepted"`` or e.g.
    ``"signature_mismatch"``.
    """
    try:
        verify(*args, **kwargs)
    except SignatureError as err:
        return err.reason
    return "accepted"


def with_timestamp(header: str, timestamp: int) -> str:
    """``header`` with its ``t=`` replaced by ``timestamp`` and every ``v1`` kept: a re-dated replay."""
    items = [f"t={timestamp}" if item.startswith("t=") else item for item in header.split(",")]
    return ",".join(items)


@contextlib.contextmanager
def live_pair(
    *, seed: int = 0, settlement: SettlementModel = DECLINED, tolerance_s: int = DEFAULT_TOLERANCE
) -> Iterator[WebhookPair]:
    """Serve B and A (webhook mode, A's clock a :class:`ShiftableClock`), register A; stop both after.

    ``tolerance_s`` is A's replay window (seconds either side of its clock). The pair records what
    A's endpoint receives, so it can hand out real deliveries (``pair.pay_and_capture()``).
    """
    with webhook_pair(
        seed=seed, settlement=settlement, clock=ShiftableClock(), tolerance_s=tolerance_s
    ) as pair:
        yield pair


#: What each attack of :func:`attack_requests` and :func:`late_replays` sends, in a few words.
DESCRIPTIONS = {
    "unsigned": "made-up 'succeeded' event, no signature header",
    "forged": "made-up 'succeeded' event, signed with a guessed secret",
    "tampered": "genuine body edited to 'succeeded', genuine signature",
    "replayed": "genuine request resent as is, within the window",
    "replayed late": "genuine request resent as is, after the window",
    "replayed late, re-dated": "same, with t= set to now to look fresh",
}


def attack_requests(
    genuine: CapturedRequest, now: float, *, guessed_secret: str = "whsec_guessed"
) -> dict[str, tuple[bytes, dict[str, str]]]:
    """The attacker's requests, built from one captured genuine delivery: ``{name: (body, headers)}``.

    - ``unsigned``: a made-up event marking the captured payment ``succeeded``, no signature;
    - ``forged``: the same event, signed (correctly) with a secret the attacker guessed;
    - ``tampered``: the genuine body with its status flipped, a fresh event id and a higher
      version (so neither de-duplication nor version ordering would stop it), the genuine header;
    - ``replayed``: the genuine request, byte for byte.

    ``now`` (Unix seconds) dates the forgery. For replays after the tolerance window see
    :func:`late_replays`.
    """
    event = genuine.event
    payment = event["data"]["object"]
    flipped = "failed" if payment["status"] == "succeeded" else "succeeded"
    bumped = {**payment, "status": flipped, "version": payment["version"] + 1}
    made_up = {"id": "evt_made_up", "type": f"payment.{flipped}", "data": {"object": bumped}}
    made_up_body = json.dumps(made_up, separators=(",", ":")).encode()
    tampered = {**event, "id": event["id"] + "x", "type": f"payment.{flipped}", "data": {"object": bumped}}
    headers = genuine.replay_headers()
    return {
        "unsigned": (made_up_body, {"content-type": "application/json"}),
        "forged": (
            made_up_body,
            {
                "content-type": "application/json",
                SIGNATURE_HEADER: sign_stripe(made_up_body, guessed_secret, int(now)),
            },
        ),
        "tampered": (json.dumps(tampered, separators=(",", ":")).encode(), headers),
        "replayed": (genuine.body, headers),
    }


def late_replays(genuine: CapturedRequest, now: float) -> dict[str, tuple[bytes, dict[str, str]]]:
    """Two replays of ``genuine`` sent at ``now``, after the window: ``{name: (body, headers)}``.

    - ``replayed late``: the genuine request, byte for byte;
    - ``replayed late, re-dated``: the same with ``t=`` set to ``now``, so that it looks fresh
      (the signatures are kept: the attacker cannot compute new ones).
    """
    if int(now) == genuine.signed_at:
        raise ValueError("now is the second the request was signed: re-dating it would change nothing")
    headers = genuine.replay_headers()
    return {
        "replayed late": (genuine.body, headers),
        "replayed late, re-dated": (
            genuine.body,
            _merged(headers, {SIGNATURE_HEADER: with_timestamp(genuine.signature, int(now))}),
        ),
    }


def run_attacks(
    url: str, attacks: dict[str, tuple[bytes, dict[str, str]]], *, client: httpx.Client | None = None
) -> pd.DataFrame:
    """POST each attack to ``url``; one row each: ``attack``, ``status``, ``outcome``.

    ``outcome`` is :func:`outcome` of A's JSON answer: the error's ``reason``, or
    ``"duplicate"`` / ``"accepted"`` for a ``200``. Requests carry ``Hooklab-Sender: attacker`` so
    A's request log can tell them apart.
    """
    rows = []
    with contextlib.ExitStack() as stack:
        http = client or stack.enter_context(httpx.Client(timeout=5.0))
        for name, (body, headers) in attacks.items():
            response = http.post(url, content=body, headers=_merged(headers, {SENDER_HEADER: ATTACKER}))
            rows.append({"attack": name, "status": response.status_code, "outcome": outcome(response.json())})
    return pd.DataFrame(rows, columns=["attack", "status", "outcome"])


def replay_window(shop: Shop, request: CapturedRequest, secret: str, deltas_s: Iterable[int]) -> pd.DataFrame:
    """Replay ``request`` into A's core ``shop`` at ``signed_at + delta`` for each delta, in order.

    One row each: the delta, what :func:`~hooklab.core.signing.verify_stripe` alone says with the
    shop's tolerance, and what A answers (status and :func:`outcome`), which adds de-duplication.
    Time moves through the ``now=`` argument; nothing sleeps.
    """
    rows = []
    for delta in deltas_s:
        at = request.signed_at + delta
        said = verdict(
            verify_stripe, request.body, request.signature, secret, tolerance=shop.tolerance_s, now=at
        )
        reply = shop.receive_webhook(request.body, request.headers, now=at)
        rows.append(
            {
                "replayed at (s after signing)": delta,
                "verify_stripe": said,
                "A answers": f"{reply.status} {outcome(reply.body)}",
            }
        )
    return pd.DataFrame(rows)


def compare_timings(size: int, *, number: int = 1000, repeat: int = 5) -> pd.DataFrame:
    """Time ``a == b`` and ``hmac.compare_digest(a, b)`` on ``size``-byte values that differ
    in their first byte or in their last byte. Best of ``repeat`` runs, nanoseconds per call.

    Wall-clock measurements: they vary by machine and load.
    """
    if size < 2:
        raise ValueError(f"size must be at least 2 bytes, got {size}")
    expected = b"a" * size
    candidates = {"first byte": b"b" + b"a" * (size - 1), "last byte": b"a" * (size - 1) + b"b"}
    comparisons = {
        "==": "expected == candidate",
        "hmac.compare_digest": "compare_digest(expected, candidate)",
    }
    rows = []
    for comparison, stmt in comparisons.items():
        for differs_at, candidate in candidates.items():
            names = {"expected": expected, "candidate": candidate, "compare_digest": hmac.compare_digest}
            best = min(timeit.Timer(stmt, globals=names).repeat(repeat, number)) / number
            rows.append({"comparison": comparison, "differs at": differs_at, "ns per call": best * 1e9})
    return pd.DataFrame(rows)
