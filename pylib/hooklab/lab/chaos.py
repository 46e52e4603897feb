"""A chaos run: real B and A processes, real SQLite, a fault proxy between them, A killed with SIGKILL.

:func:`chaos_run` starts ``hooklab provider --db`` (B) and ``hooklab consumer --db --reconcile``
(A, registered with B at the :class:`~hooklab.live.faultproxy.FaultProxy`'s URL), creates payments
at B while the proxy drops, delays, reorders and duplicates deliveries and loses A's answers,
kills A several times (once for longer than B's whole retry schedule) and starts it again on the
same database. Then it waits until A knows what B knows and counts: lost payments, orders
fulfilled twice or not at all, duplicates A received. ``make chaos`` runs a longer one
(``python -m hooklab.lab.chaos``) and prints the table.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pandas as pd

from hooklab.core.contract import FINAL_STATUSES
from hooklab.core.retry import retry_policy
from hooklab.live.faultproxy import FaultProxy, Faults
from hooklab.live.processes import Child, free_port, start
from hooklab.live.serving import serve
from hooklab.measure.progress import tracking


@dataclass
class ChaosResult:
    """What a chaos run did and what it left: :meth:`table` is the one-line verdict."""

    payments: int
    events: int
    attempts: int
    kills: int
    longest_down_s: float
    schedule_s: float
    faults: dict
    duplicates_received: int
    lost: int
    fulfilled_twice: int
    unfulfilled: int
    a_equals_b: bool
    #: events no attempt of B's got a 200 for (B gave up): what A can only have by reconciling
    never_delivered: int
    seconds: float
    #: one row per moment: (t, what), t in seconds from the start
    timeline: pd.DataFrame = field(repr=False)
    #: one row per delivery attempt B made: (t, event_id, attempt, status)
    attempt_log: pd.DataFrame = field(repr=False)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "payments": self.payments,
                    "events": self.events,
                    "delivery attempts": self.attempts,
                    "dropped": self.faults.get("dropped", 0),
                    "duplicated": self.faults.get("duplicated", 0),
                    "delayed": self.faults.get("delayed", 0),
                    "replies lost": self.faults.get("reply_dropped", 0),
                    "A killed": self.kills,
                    "never delivered": self.never_delivered,
                    "duplicates received": self.duplicates_received,
                    "lost": self.lost,
                    "fulfilled twice": self.fulfilled_twice,
                    "A == B": self.a_equals_b,
                }
            ]
        )


def _every(client: httpx.Client, url: str):
    """Every item of one of B's paged listings (``data``, ``has_more``, ``after=<last id>``)."""
    after = None
    while True:
        page = _get(client, f"{url}?limit=1000" + (f"&after={after}" if after else ""))
        yield from page["data"]
        if not page["has_more"]:
            return
        after = page["data"][-1]["id"]


def _get(client: httpx.Client, url: str) -> dict | None:
    try:
        response = client.get(url, timeout=2.0)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def _kill_plan(payments: int, kills: int, down_s: float, long_down_s: float) -> dict[int, float]:
    """After which payment A is killed, and for how long: evenly spread, the middle one the long one."""
    plan = {}
    for k in range(kills):
        after = (k + 1) * payments // (kills + 1)
        plan[after] = long_down_s if k == kills // 2 else down_s
    return plan


def chaos_run(
    *,
    payments: int = 30,
    kills: int = 3,
    down_s: float = 0.5,
    long_down_s: float | None = None,
    retries: str = "0.2,0.4,0.8",
    reconcile_s: float | None = 1.0,
    faults: Faults | None = None,
    gap_s: float = 0.05,
    seed: int = 0,
    timeout_s: float = 60.0,
    workdir: str | Path | None = None,
) -> ChaosResult:
    """Run the chaos described in the module docstring; bounded by ``timeout_s`` of catching up.

    ``long_down_s`` (default: B's whole schedule plus 1 s) is the one outage B cannot retry across:
    only A's reconciliation can recover what B gave up on during it (``reconcile_s=None``: A does not
    reconcile, and those payments are lost).
    """
    schedule_s = retry_policy(retries).span_s
    long_down_s = schedule_s + 1.0 if long_down_s is None else long_down_s
    plan = _kill_plan(payments, kills, down_s, long_down_s)
    rng = random.Random(seed)
    # wall-clock (Unix) seconds, as B stamps its attempts, so the two timelines share one axis; 0 is
    # the first payment (reset below, once both systems are up)
    started = time.time()
    moments: list[tuple[float, str]] = []

    def note(what: str) -> None:
        moments.append((time.time() - started, what))

    with contextlib.ExitStack() as stack:
        root = Path(workdir) if workdir else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        log = root / "processes.log"
        b = start(["provider", "--db", str(root / "b.db"), "--retries", retries, "--settle-mean", "0.4",
                   "--failure-share", "0.1", "--delivery-timeout", "2"], free_port(), log)  # fmt: skip
        stack.callback(b.stop)
        a_port = free_port()
        proxy = FaultProxy(f"http://127.0.0.1:{a_port}", faults, seed=seed)
        proxied = stack.enter_context(serve(proxy.app))
        a_args = ["consumer", "--provider", b.url, "--mode", "webhook", "--db", str(root / "a.db"),
                  "--public-url", proxied.url]  # fmt: skip
        if reconcile_s is not None:
            a_args += ["--reconcile", f"{reconcile_s:g}"]
        a: list[Child] = [start(a_args, a_port, log)]
        stack.callback(lambda: a[0].stop())
        client = stack.enter_context(httpx.Client())
        ids = []
        started = time.time()
        with tracking(total=payments, desc="chaos: payments made (A killed on plan)", unit="payment") as made:
            for k in range(1, payments + 1):
                created = client.post(
                    b.url + "/payments", json={"amount": rng.randint(100, 99_999), "currency": "eur"}
                )
                ids.append(created.json()["id"])
                note("payment created")
                time.sleep(gap_s)
                if k in plan:
                    a[0].kill()
                    note("A killed (SIGKILL)")
                    time.sleep(plan[k])
                    a[0] = start(a_args, a_port, log)
                    note("A started again")
                made.update()

        def views() -> tuple[dict, dict]:
            at_b = {pid: _get(client, f"{b.url}/payments/{pid}") for pid in ids}
            listed = _get(client, a[0].url + "/payments") or {"data": []}
            return at_b, {p["id"]: p for p in listed["data"]}

        deadline = time.monotonic() + timeout_s
        with tracking(total=payments, desc="chaos: payments A and B agree on", unit="payment") as agreed:
            while True:
                at_b, at_a = views()
                agreed.update(sum(at_a.get(pid) == p for pid, p in at_b.items()) - agreed.n)
                settled = all(p is not None and p["status"] in FINAL_STATUSES for p in at_b.values())
                if (
                    settled and all(at_a.get(pid) == p for pid, p in at_b.items())
                ) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        note("A knows what B knows" if at_a == at_b else "gave up waiting")
        fulfilled = Counter(
            f["payment_id"] for f in (_get(client, a[0].url + "/fulfilments") or {"data": []})["data"]
        )
        events = sum(1 for _ in _every(client, f"{b.url}/events"))
        rows = []
        for endpoint in _get(client, b.url + "/webhook-endpoints")["data"]:
            for delivery in _every(client, f"{b.url}/webhook-endpoints/{endpoint['id']}/deliveries"):
                for attempt in delivery["attempts"]:
                    rows.append(
                        (attempt["started_at"], delivery["event_id"], attempt["attempt"], attempt["status"])
                    )
    succeeded = {pid for pid, p in at_b.items() if p and p["status"] == "succeeded"}
    attempt_log = pd.DataFrame(rows, columns=["t", "event_id", "attempt", "status"]).sort_values("t")
    attempt_log["t"] -= started
    return ChaosResult(
        payments=payments,
        events=events,
        attempts=len(rows),
        kills=kills,
        longest_down_s=max(plan.values(), default=0.0),
        schedule_s=schedule_s,
        faults=dict(proxy.counts),
        duplicates_received=proxy.counts["a_saw_duplicate"],
        lost=sum(1 for pid, p in at_b.items() if at_a.get(pid) != p),
        fulfilled_twice=sum(1 for n in fulfilled.values() if n > 1),
        unfulfilled=len(succeeded - set(fulfilled)) + len(set(fulfilled) - succeeded),
        a_equals_b=at_a == at_b,
        never_delivered=events - attempt_log.loc[attempt_log["status"] == 200, "event_id"].nunique(),
        seconds=round(time.time() - started, 1),
        timeline=pd.DataFrame(moments, columns=["t", "what"]),
        attempt_log=attempt_log.reset_index(drop=True),
    )


def report(*, payments: int = 200, kills: int = 6, seed: int = 0) -> int:
    """One run, its figures printed (``hooklab chaos``, ``make chaos``); 0 if nothing went wrong."""
    result = chaos_run(payments=payments, kills=kills, seed=seed, timeout_s=120)
    print(result.table().T.to_string(header=False))
    print(f"longest outage {result.longest_down_s:g} s against B's schedule of {result.schedule_s:g} s; "
          f"unfulfilled or wrongly fulfilled {result.unfulfilled}; {result.seconds:g} s")  # fmt: skip
    ok = result.lost == 0 and result.fulfilled_twice == 0 and result.unfulfilled == 0 and result.a_equals_b
    return 0 if ok else 1
