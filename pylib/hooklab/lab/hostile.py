"""Hostile use of the two systems, as small experiments: what tests/test_hardening3.py and
tests/test_receiver.py check and benchmarks/bench_hardening.py and bench_receiver.py measure,
written once.

A receiver that takes anything, B settling everything now, B with a long history, a dead endpoint
recovered again and again, and a flood of distinct signed events.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from hooklab.core.contract import encode_event
from hooklab.core.provider import PaymentProvider, SettlementModel
from hooklab.core.signing import sign_stripe
from hooklab.live.provider_app import ProviderService

#: Payments that never settle by themselves: the experiment settles them when it wants.
NEVER = SettlementModel(mean_s=3600, min_s=3600, failure_share=0)


def succeeded_event(core: PaymentProvider, now: float, *, settled_at: float | None = None,
                    amount: int = 1999) -> dict:  # fmt: skip
    """A payment made at ``now`` in B's ``core`` and succeeded at ``settled_at`` (default: at once):
    the event B emits for it."""
    payment_id = core.create_payment(amount, "eur", now, settle=False)["id"]
    return core.update_status(payment_id, "succeeded", now if settled_at is None else settled_at)


def signed_events(secret: str, count: int, now: float, *, size: int = 1024) -> list[tuple[str, bytes]]:
    """``count`` distinct events (a payment that succeeded each), padded to about ``size`` bytes and
    signed at ``now`` with ``secret``: ``(Hooklab-Signature header, body)``."""
    b = PaymentProvider(seed=7, seeded_ids=True)
    out = []
    for _ in range(count):
        event = succeeded_event(b, now)
        event["data"]["object"]["description"] = ""
        event["data"]["object"]["description"] = "x" * max(0, size - len(encode_event(event)))
        body = encode_event(event)
        out.append((sign_stripe(body, secret, int(now)), body))
    return out


def sink_app() -> Starlette:
    """A receiver that answers 200 to any POST: many endpoints' URLs on one server."""

    async def ok(request):
        await request.body()
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/{path:path}", ok, methods=["POST"])])


def settle_all(b: ProviderService) -> None:
    """Every pending payment at B succeeds now, and B's sender looks at once."""
    with b.lock:
        for payment in list(b.core.payments.values()):
            if payment.status == "pending":
                b.core.update_status(payment.id, "succeeded", b.clock.now())
    b.sender.poke()


def delivered(b: ProviderService) -> int:
    """How many of B's deliveries have been delivered."""
    return sum(d["state"] == "delivered" for d in b.deliveries())


def many_events(b: ProviderService, n: int) -> None:
    """Give B a history of ``n`` events (``n`` payments made and settled at once)."""
    with b.lock:
        for _ in range(n):
            succeeded_event(b.core, b.clock.now(), amount=100)


def recovering_a_dead_endpoint(events: int, rounds: int) -> list[int]:
    """B's core with one dead endpoint and ``events`` failed deliveries, recovered ``rounds`` times
    (each recovery's deliveries failing in turn): how many deliveries B keeps after each round."""
    core = PaymentProvider(seed=7, retry_schedule=(1.0,), settlement=NEVER)
    dead = core.register_endpoint("http://127.0.0.1:9/webhooks/payments")
    for _ in range(events):
        succeeded_event(core, 0.0, amount=100)

    def fail_all(now: float) -> None:
        for step in range(10):
            for delivery in core.deliveries_due(now + step * 10):
                core.delivery_finished(delivery, None, now + step * 10)

    fail_all(0.0)
    kept = []
    for round_ in range(1, rounds + 1):
        core.recover(dead["id"], 0.0, 1000.0 * round_)
        fail_all(1000.0 * round_)
        kept.append(len(core.deliveries))
    return kept
