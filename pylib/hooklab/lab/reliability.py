"""Notebook 05's experiments: what goes wrong with webhooks, measured, and what cures it.

Each function runs one experiment, in virtual time (deterministic, from a seed) or live over
127.0.0.1 (real servers, real processes), and returns a small frame to show and assert on.
"""

from __future__ import annotations

import concurrent.futures
import socket
import statistics
import time
from collections.abc import Iterable, Sequence

import httpx
import numpy as np
import pandas as pd

from hooklab.core.contract import SIGNATURE_HEADER, WEBHOOK_PATH, encode_event
from hooklab.core.delivery import DeliveryState
from hooklab.core.provider import PaymentProvider, SettlementModel
from hooklab.core.retry import POLICIES, retry_policy
from hooklab.core.shop import Shop
from hooklab.core.signing import sign_stripe
from hooklab.lab.hostile import succeeded_event
from hooklab.live.provider_app import ProviderService
from hooklab.live.runs import synced, wait_until
from hooklab.live.serving import serve
from hooklab.live.shop_app import ShopService
from hooklab.measure import progress
from hooklab.sim import simulate
from hooklab.sim.world import ROW_KINDS

#: Settlements quick enough for a live cell.
QUICK = SettlementModel(mean_s=0.3, min_s=0.1, failure_share=0.0)


# --- 1. retries: schedules and what share of an outage's events arrives ---------------------------
def schedules(names: Iterable[str] = POLICIES) -> pd.DataFrame:
    """One row per attempt of each policy: ``policy``, ``attempt``, ``at_s`` (from the first attempt,
    every attempt instant), and the policy's facts (``approximate``, ``source``)."""
    rows = []
    for name in names:
        policy = retry_policy(name)
        for k, at in enumerate(policy.attempt_offsets_s(), start=1):
            rows.append({"policy": name, "attempt": k, "at_s": at, "approximate": policy.approximate,
                         "source": policy.source})  # fmt: skip
    return pd.DataFrame(rows)


def delivered_share(
    policies: Sequence[str],
    outages_s: Sequence[float],
    *,
    records: int = 20,
    events: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """For each policy and outage length D: A is down from the window's start for D seconds, B makes
    about ``events`` events during it (Poisson), and keeps retrying on its policy. ``share``: the part
    of those events A eventually receives (some attempt reached it), in virtual time; ``theory``:
    ``min(1, span / D)`` (an event made at t arrives if ``t + span >= D``, every attempt instant);
    ``disabled``: B stopped trying the endpoint (the policy's rule), after which nothing arrives.
    """
    rows = []
    runs = [(name, float(outage)) for name in policies for outage in outages_s]
    for name, outage in progress.bar(runs, desc="outages simulated", unit="run"):
        policy = retry_policy(name)
        run = simulate("webhook", retry_schedule=name, outages=[(0.0, outage)], records=records,
                       rate_per_s=events / (records * outage), duration_s=outage, seed=seed,
                       engine="events")  # fmt: skip
        start = run.window[0]
        made = {c.event_id for c in run.sim.provider.changes if start <= c.changed_at < start + outage}
        got = {d.event_id for d in run.sim.provider.deliveries.values()
               if d.state is DeliveryState.DELIVERED and d.event_id in made}  # fmt: skip
        (endpoint,) = run.sim.provider.endpoints.values()
        rows.append({"policy": name, "outage_s": float(outage), "events": len(made),
                     "received": len(got), "share": len(got) / len(made) if made else float("nan"),
                     "theory": min(1.0, policy.span_s / outage), "disabled": not endpoint.enabled})  # fmt: skip
    return pd.DataFrame(rows)


# --- 2. answer fast, work later --------------------------------------------------------------------
def ack_comparison(
    *, work_s: float = 0.4, timeout_s: float = 0.2, payments: int = 3, seed: int = 5
) -> pd.DataFrame:
    """Live: A does ``work_s`` of work per event, before answering (``inline``) or after writing the
    event to its inbox (``inbox``); B gives up on an attempt after ``timeout_s``. One row per way:
    B's attempts, how many timed out, the duplicates A received, how long A took to answer its
    first attempt of each event (median), orders fulfilled."""
    rows = []
    for ack in ("inline", "inbox"):
        b = ProviderService(seed=seed, settlement=QUICK, delivery_timeout_s=timeout_s,
                            retry_schedule="0.1,0.2,0.4,0.8")  # fmt: skip
        with serve(b.app) as b_run:
            shop = ShopService(b_run.url, mode="webhook", ack=ack, work_s=work_s)
            with serve(shop.app) as a_run:
                shop.register_webhook(a_run.url)
                for _ in range(payments):
                    shop.create_payment()
                wait_until(
                    lambda b=b, shop=shop: synced(b, shop),
                    20,
                    f"A ({ack}) to learn every payment and B's retries to end",
                )
                fulfilled = shop.fulfilment_rows()
            shop.close()
        sent = b.log.to_frame()
        sent = sent[sent["kind"] == "webhook"]
        received = shop.log.to_frame()
        received = received[(received["kind"] == "webhook") & (received["direction"] == "in")]
        first = [d["attempts"][0] for d in b.deliveries()]
        rows.append({
            "ack": ack,
            "attempts": len(sent),
            "timed_out": int(sent["status"].isna().sum()),
            "duplicates_received": int((received["news"] == False).sum()),  # noqa: E712 (nullable)
            "first_answer_ms": round(statistics.median((a["ended_at"] - a["started_at"]) for a in first) * 1000),
            "fulfilled": len(fulfilled),
            "fulfilled_twice": len(fulfilled) - len({pid for pid, _ in fulfilled}),
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("ack")


# --- 3. duplicates --------------------------------------------------------------------------------
def concurrent_duplicates(copies: int = 20, *, now: float | None = None) -> dict:
    """Live: one signed ``payment.succeeded`` event POSTed ``copies`` times at once to A. Returns
    how many answers said new and duplicate, and A's fulfilments of that payment."""
    secret = "whsec_notebook05_demo"
    shop = ShopService("http://127.0.0.1:9", mode="webhook")  # B is not needed: A only receives
    shop.core.add_webhook_secret(secret)
    t = time.time() if now is None else now
    payment = {"id": "pay_dup", "status": "succeeded", "amount": 1999, "currency": "eur", "version": 2,
               "created_at": t - 2, "updated_at": t - 1}  # fmt: skip
    body = encode_event(
        {"id": "evt_dup", "type": "payment.succeeded", "created": t - 1, "data": {"object": payment}}
    )
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign_stripe(body, secret, int(t))}
    with serve(shop.app) as a_run, httpx.Client() as client:

        def send(_: int) -> dict:
            return client.post(a_run.url + WEBHOOK_PATH, content=body, headers=headers).json()

        with concurrent.futures.ThreadPoolExecutor(max_workers=copies) as pool:
            answers = list(pool.map(send, range(copies)))
        fulfilled = client.get(a_run.url + "/fulfilments").json()["data"]
    shop.close()
    return {
        "sent": copies,
        "new": sum(1 for a in answers if a.get("duplicate") is False),
        "duplicate": sum(1 for a in answers if a.get("duplicate") is True),
        "fulfilments": len(fulfilled),
    }


def inbox_memory(retentions_s: Sequence[float], *, policy: str = "standard", reply_loss: float = 0.5,
                 records: int = 50, seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """Virtual time: A's ``200`` is lost with chance ``reply_loss``, so B retries what A has; A
    remembers event ids for ``retention_s``. One row per memory: events processed twice (what a
    side effect with no key of its own, an e-mail per event processed, repeats) and whether A's state
    ends equal to B's (the payment's version makes a second copy harmless to the state)."""
    rows = []
    for retention in retentions_s:
        run = simulate("webhook", retry_schedule=policy, reply_loss_prob=reply_loss, retention_s=retention,
                       records=records, rate_per_s=1 / 3600, duration_s=6 * 3600, seed=seed)  # fmt: skip
        rows.append({"retention_s": retention, "changes": run.summary["changes"], "retries": run.summary["retries"],
                     "processed_twice": run.summary["applied_twice"],
                     "state_right": run.consistent})  # fmt: skip
    return pd.DataFrame(rows)


# --- 4. ordering ----------------------------------------------------------------------------------
def ordering(arrivals: Sequence[int] = (3, 2)) -> pd.DataFrame:
    """One payment reaches version 3; its events arrive in the order ``arrivals`` (versions). What A
    ends with: comparing versions (A's rule), last write wins (no versions), and treating each
    event as a hint and re-fetching B's current state (what Stripe advises: its objects carry no
    version)."""
    b = PaymentProvider(seed=1, seeded_ids=True)
    payment = b.create_payment(1999, "eur", 0.0, settle=False)
    snapshots = {1: payment}
    for version, status in ((2, "processing"), (3, "succeeded")):
        snapshots[version] = b.update_status(payment["id"], status, float(version))["data"]["object"]
    rows = []
    with_versions = Shop()
    last_write: dict = {}
    refetched = Shop()
    for k, version in enumerate(arrivals):
        with_versions.apply(snapshots[version], "webhook", 10.0 + k)
        last_write = dict(snapshots[version])
        refetched.apply(b.get_payment(payment["id"]), "refetch", 10.0 + k)
    for rule, state in (("compare versions", with_versions.payments[payment["id"]]), ("last write wins", last_write),
                        ("re-fetch from B", refetched.payments[payment["id"]])):  # fmt: skip
        rows.append({"rule": rule, "A ends with": state["status"], "version": state["version"],
                     "right": state == b.get_payment(payment["id"])})  # fmt: skip
    return pd.DataFrame(rows).set_index("rule")


# --- 5. downtime longer than the schedule, and reconciliation -------------------------------------
def reconcile_after_outage(*, outage: tuple[float, float] = (3600.0, 40 * 3600.0), reconcile_s: float = 600,
                           policy: str = "svix", records: int = 50, duration_s: float = 6 * 3600,
                           seed: int = 2) -> pd.DataFrame:  # fmt: skip
    """Virtual time: changes for ``duration_s``, A down for ``outage`` (start, length), B on
    ``policy``; webhooks alone against webhooks plus a ``GET /events`` read every ``reconcile_s``.
    Requests are counted until the reconciled A has learned every change: the catch-up reads after
    A returns are in the count, though they come after the window of changes."""
    down = dict(retry_schedule=policy, outages=[outage], records=records, rate_per_s=1 / 3600,
                duration_s=duration_s, seed=seed)  # fmt: skip
    runs = {"webhooks alone": simulate("webhook", **down),
            f"reconciled every {reconcile_s:g} s": simulate("webhook", reconcile_s=reconcile_s, **down)}  # fmt: skip
    reconciled = list(runs.values())[-1]
    caught_up_s = float(reconciled.latencies["learned_at"].max())  # from the window's start
    rows = []
    for name, run in runs.items():
        start, time, which = run.window[0], run.columns["time"], run.columns["which"]
        kind = np.array([k for _, _, k, _ in ROW_KINDS])[which]  # the row kinds grow as runs add them
        until = (time >= start) & (time <= start + caught_up_s)
        rows.append({"": name, "changes": run.summary["changes"], "lost": run.summary["lost"],
                     "webhook attempts": int((until & (kind == "webhook")).sum()),
                     "reconciliation reads": int((until & (kind == "feed")).sum())})  # fmt: skip
    frame = pd.DataFrame(rows).set_index("")
    frame.attrs["caught_up_h"] = caught_up_s / 3600
    return frame


def same_change_two_ids(*, seed: int = 7) -> pd.DataFrame:
    """One change sent twice under two event ids (a sender that mints an id per emission): what A's
    core does with each copy. The id check lets both in; the payment's version stops the second."""
    event = succeeded_event(PaymentProvider(seed=seed, seeded_ids=True), 0.0, settled_at=1.0)
    twin = {**event, "id": event["id"] + "_again"}  # the same change, re-emitted under a new id
    shop = Shop()
    rows = []
    for copy in (event, twin):
        before = shop.observations[:]
        rows.append({"event id": copy["id"], "accepted as new": shop.accept(copy, "webhook", 2.0),
                     "changed A's state": shop.observations != before})  # fmt: skip
    return pd.DataFrame(rows).set_index("event id")


# --- 6. the sender's side -------------------------------------------------------------------------
def healthy_beside_dead(dead: int = 20, *, payments: int = 40, seed: int = 4) -> dict:
    """Live: B with ``dead`` black-hole endpoints (they accept connections and never answer) and A's
    healthy one. Returns A's delivery latency (p50, max, ms) and how many payments A learned."""
    holes = []
    for _ in range(dead):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(512)
        holes.append(sock)
    b = ProviderService(seed=seed, settlement=QUICK)
    try:
        with serve(b.app) as b_run:
            shop = ShopService(b_run.url, mode="webhook")
            with serve(shop.app) as a_run:
                for sock in holes:
                    b.add_endpoint(f"http://127.0.0.1:{sock.getsockname()[1]}/hook")
                shop.register_webhook(a_run.url)
                for _ in range(payments):
                    shop.create_payment()
                    time.sleep(0.02)
                wait_until(shop.is_done, 30, "A to learn every payment")
                made = {(c.payment_id, c.version): c.changed_at for c in b.changes()}
                dead_ids = {e["id"] for e in b.endpoints() if e["url"].endswith("/hook")}
                in_flight_dead = sum(1 for d in b.deliveries()
                                     if d["endpoint_id"] in dead_ids and d["state"] not in ("delivered", "failed"))  # fmt: skip
            shop.close()
    finally:
        for sock in holes:
            sock.close()
    waits = [
        o.learned_at - made[(o.payment_id, o.version)] for o in shop.observations() if o.via == "webhook"
    ]
    return {"dead_endpoints": dead, "learned": len(waits), "p50_ms": round(statistics.median(waits) * 1000, 1),
            "max_ms": round(max(waits) * 1000), "dead_deliveries_unfinished": in_flight_dead}  # fmt: skip


def recovery_demo(payments: int = 3, *, seed: int = 6) -> pd.DataFrame:
    """Live: B on GitHub's policy (no retries) while A is down: every delivery fails once and stays
    failed. Then B's recovery API: list one endpoint's deliveries, redeliver one (GitHub's way),
    recover the rest since a moment (Svix's way). One row per step: what A knows afterwards."""
    b = ProviderService(seed=seed, settlement=QUICK, retry_schedule="github")
    steps = []
    with serve(b.app) as b_run, httpx.Client(base_url=b_run.url) as client:
        shop = ShopService(b_run.url, mode="webhook")
        a = serve(shop.app)
        a_run = a.__enter__()
        endpoint = shop.register_webhook(a_run.url)
        a.__exit__(None, None, None)  # A goes down; B knows the URL
        since = time.time()
        ids = [
            client.post("/payments", json={"amount": 100 + k, "currency": "eur"}).json()["id"]
            for k in range(payments)
        ]

        def failed_all() -> bool:
            listed = client.get(f"/webhook-endpoints/{endpoint['id']}/deliveries").json()["data"]
            return len(listed) == payments and all(d["state"] == "failed" for d in listed)

        wait_until(failed_all, 10, "every delivery to fail")

        def known() -> int:
            return sum(1 for pid in ids if shop.snapshot().get(pid, {}).get("status") == "succeeded")

        steps.append({"step": "A was down; GitHub's policy never retries", "known_to_A": known()})
        with serve(shop.app, port=a_run.port):
            deliveries = client.get(f"/webhook-endpoints/{endpoint['id']}/deliveries").json()["data"]
            client.post(f"/deliveries/{deliveries[0]['id']}/redeliver")
            wait_until(lambda: known() >= 1, 10, "the redelivery")
            steps.append({"step": "POST /deliveries/{id}/redeliver (one)", "known_to_A": known()})
            answer = client.post(f"/webhook-endpoints/{endpoint['id']}/recover", json={"since": since}).json()
            wait_until(lambda: known() == payments, 10, "the recovery")
            steps.append({"step": f"POST .../recover since the outage ({answer['recovering']} re-sent)",
                          "known_to_A": known()})  # fmt: skip
        shop.close()
    frame = pd.DataFrame(steps).set_index("step")
    frame["payments"] = payments
    return frame
