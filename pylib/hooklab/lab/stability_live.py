"""Notebook 07's live experiments: real ``hooklab`` processes on 127.0.0.1, real load, real CPU time.

- :func:`knee`: A with a known capacity (``--handlers`` events at once, ``--work`` seconds each)
  offered more and more signed events a second, at Poisson moments: latency and timeouts per load;
- :func:`herd_live`: A down while B's deliveries fail, then back and recovered: how many attempts
  reach it in its busiest 100 ms, with and without B spreading the recovery and limiting its rate;
- :func:`cpu_per_change`: the CPU seconds B's and A's processes spend per payment, each way A learns.

Each starts its own processes in a temporary folder and stops them (by their own ids) when done.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil

from hooklab.core.contract import (
    DELIVERIES_PATH,
    PAYMENTS_PATH,
    RECOVER_PATH,
    SIGNATURE_HEADER,
    WEBHOOK_ENDPOINTS_PATH,
    WEBHOOK_PATH,
)
from hooklab.lab.hostile import signed_events
from hooklab.live.processes import Child, free_port, start
from hooklab.live.runs import wait_until
from hooklab.measure.progress import tracking

#: The knee's A: 2 handlers, 20 ms of work each: 100 events a second. B (here, the load) waits 1 s.
KNEE_HANDLERS, KNEE_WORK_S, KNEE_TIMEOUT_S = 2, 0.02, 1.0
KNEE_CAPACITY_PER_S = KNEE_HANDLERS / KNEE_WORK_S
#: The same, for the notebook's prose.
KNEE = {"handlers": KNEE_HANDLERS, "work_s": KNEE_WORK_S, "timeout_s": KNEE_TIMEOUT_S,
        "capacity_per_s": KNEE_CAPACITY_PER_S}  # fmt: skip


@contextlib.contextmanager
def _pair(folder: Path, provider_args: list[str] = (), consumer_args: list[str] = ()) -> Iterator[tuple]:
    """B, and A registered with it in webhook mode with a database: ``(b, a, a_args, secret)``."""
    log = folder / "processes.log"
    b = start(["provider", *provider_args], free_port(), log)
    a_port = free_port()
    a_args = ["consumer", "--provider", b.url, "--mode", "webhook", "--db", str(folder / "a.db"),
              "--public-url", f"http://127.0.0.1:{a_port}", *consumer_args]  # fmt: skip
    a: Child | None = None
    try:
        a = start(a_args, a_port, log)
        with sqlite3.connect(folder / "a.db") as db:
            [secret] = [row[0] for row in db.execute("SELECT secret FROM webhook_secrets")]
        yield b, a, (a_args, a_port, log), secret
    finally:
        for child in (a, b):
            if child is not None:
                child.stop()


def _offer(url: str, events: list[tuple[str, bytes]], rate_per_s: float, timeout_s: float, seed: int) -> list:
    """Send ``events`` to ``url`` at Poisson moments, ``rate_per_s`` on average, without waiting for
    answers (an open loop, as a sender does): ``(latency_s or None, status or None)`` each."""
    gaps = np.random.default_rng(seed).exponential(1 / rate_per_s, len(events))

    async def one(client: httpx.AsyncClient, header: str, body: bytes) -> tuple:
        started = time.perf_counter()
        try:
            answer = await client.post(url, content=body, headers={SIGNATURE_HEADER: header})
        except httpx.TimeoutException:
            return None, None
        return time.perf_counter() - started, answer.status_code

    async def run() -> list:
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
        async with httpx.AsyncClient(timeout=timeout_s, limits=limits) as client:
            loop = asyncio.get_running_loop()
            t0, tasks = loop.time(), []
            for (header, body), at in zip(events, np.cumsum(gaps), strict=True):
                await asyncio.sleep(max(0.0, t0 + at - loop.time()))
                tasks.append(asyncio.create_task(one(client, header, body)))
            return await asyncio.gather(*tasks)

    # its own thread and event loop: a notebook's kernel already runs one
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def inbox_empty(db: Path) -> bool:
    """Whether A's SQLite inbox at ``db`` holds nothing (read-only: A keeps writing)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT COUNT(*) FROM inbox").fetchone()[0] == 0


def knee(shares: tuple[float, ...] = (0.25, 0.5, 0.75, 0.9, 1.1, 1.5, 2.0), *, seconds: float = 2.0,
         seed: int = 7) -> pd.DataFrame:  # fmt: skip
    """A that can work on :data:`KNEE_CAPACITY_PER_S` events a second (inline: it answers after the
    work), offered each share of that for ``seconds``: per load, the answered share, timeouts
    (no answer within :data:`KNEE_TIMEOUT_S`), and the latency of the answered (p50, p99, ms).
    Between loads, A finishes what it holds (its inbox empties) so each load starts from rest."""
    folder = Path(tempfile.mkdtemp(prefix="hooklab-knee-"))
    rows = []
    try:
        handlers = ["--ack", "inline", "--work", str(KNEE_WORK_S), "--handlers", str(KNEE_HANDLERS)]
        with _pair(folder, consumer_args=handlers) as (_b, a, _, secret):
            counts = [math.ceil(share * KNEE_CAPACITY_PER_S * seconds) for share in shares]
            events = signed_events(secret, sum(counts), time.time())
            with tracking(total=len(shares), desc="loads offered to A", unit="load") as done:
                for k, (share, count) in enumerate(zip(shares, counts, strict=True)):
                    batch, events = events[:count], events[count:]
                    answers = _offer(a.url + WEBHOOK_PATH, batch, share * KNEE_CAPACITY_PER_S, KNEE_TIMEOUT_S,
                                     seed + k)  # fmt: skip
                    ok = [lat for lat, status in answers if status == 200]
                    rows.append({
                        "offered_per_s": share * KNEE_CAPACITY_PER_S, "share_of_capacity": share,
                        "sent": count, "answered_200": len(ok),
                        "timed_out": sum(1 for _, status in answers if status is None),
                        "p50_ms": round(1000 * float(np.median(ok)), 1) if ok else None,
                        "p99_ms": round(1000 * float(np.percentile(ok, 99)), 1) if ok else None,
                    })  # fmt: skip
                    wait_until(lambda: inbox_empty(folder / "a.db"), 60, "A to finish what it held")
                    done.update(1)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return pd.DataFrame(rows).set_index("offered_per_s")


def herd_live(payments: int = 40, *, down_s: float = 2.0) -> pd.DataFrame:
    """Live, small: A stops; ``payments`` payments settle at B, whose deliveries to A fail and,
    after its short teaching schedule, give up; A starts again and asks B to recover (re-send)
    everything that failed. Per way B sends: the attempts in A's busiest 100 ms after it returned,
    over how long they came, and whether A then knew every payment."""
    senders = {
        "all at once": [],
        "spread over 2 s, at most 10/s": ["--recovery-spread", "2", "--endpoint-rate", "10/1"],
    }
    rows = []
    with tracking(total=len(senders), desc="outages run live", unit="outage") as done:
        for sender, provider_args in senders.items():
            folder = Path(tempfile.mkdtemp(prefix="hooklab-herd-"))
            try:
                with _pair(folder, ["--retries", "0.1,0.1", "--settle-mean", "0.2", *provider_args]) as (
                    b,
                    a,
                    again,
                    _,
                ):
                    rows.append({"B sends": sender, **_outage(b, a, again, payments, down_s)})
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            done.update(1)
    return pd.DataFrame(rows).set_index("B sends")


def _outage(b: Child, a: Child, again: tuple, payments: int, down_s: float) -> dict:
    a_args, a_port, log = again
    with httpx.Client(base_url=b.url, timeout=10) as client:
        [endpoint] = client.get(WEBHOOK_ENDPOINTS_PATH).json()["data"]
        a.stop()
        for _ in range(payments):
            client.post(PAYMENTS_PATH, json={"amount": 1999, "currency": "eur"}).raise_for_status()
        deliveries = DELIVERIES_PATH.format(endpoint_id=endpoint["id"])

        def listed() -> list:
            page = client.get(deliveries, params={"limit": 100}).json()
            assert not page["has_more"], "more deliveries than one page: fewer payments, please"
            return page["data"]

        def given_up() -> list:
            rows = listed()
            return rows if len(rows) >= payments and all(d["state"] == "failed" for d in rows) else []

        wait_until(lambda: bool(given_up()), 30, "B to give up on every delivery")
        time.sleep(down_s)  # A stays down a while longer, as an outage does
        returned = time.time()
        a = start(a_args, a_port, log)
        client.post(RECOVER_PATH.format(endpoint_id=endpoint["id"]), json={"since": 0}).raise_for_status()

        def all_delivered() -> list:
            recovered = [d for d in listed() if d["redelivery_of"] is not None]
            return (
                recovered
                if len(recovered) >= payments and all(d["state"] == "delivered" for d in recovered)
                else []
            )

        wait_until(lambda: bool(all_delivered()), 30, "B to deliver every recovered event")
        starts = np.sort([att["started_at"] for d in all_delivered() for att in d["attempts"]]) - returned
        known = httpx.get(a.url + PAYMENTS_PATH, timeout=10).json()["data"]
        a.stop()
    busiest = int(max(np.searchsorted(starts, t + 0.1, side="left") - i for i, t in enumerate(starts)))
    return {"attempts": len(starts), "busiest_100ms": busiest,
            "over_s": round(float(starts[-1] - starts[0]), 2),
            "A_knows_all": len(known) >= payments}  # fmt: skip


#: The ways A learns, live, for the CPU comparison (poll modes every second).
CPU_MODES = ("poll", "conditional", "feed", "long-poll", "sse", "webhook")


def cpu_per_change(
    modes: tuple[str, ...] = CPU_MODES, *, payments: int = 20, seconds: float = 5.0
) -> pd.DataFrame:
    """For each way A learns: B and A as processes; ``payments`` orders placed through A; after
    ``seconds`` (and A knowing them all), the CPU seconds each process spent (``psutil``, user +
    system) in that time, per payment, and the requests and bytes B served and sent (its own count)."""
    rows = []
    with tracking(total=len(modes), desc="ways of learning run live", unit="mode") as done:
        for mode in modes:
            folder = Path(tempfile.mkdtemp(prefix="hooklab-cpu-"))
            try:
                rows.append({"mode": mode, **_cpu_run(folder, mode, payments, seconds)})
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            done.update(1)
    return pd.DataFrame(rows).set_index("mode")


def _cpu_run(folder: Path, mode: str, payments: int, seconds: float) -> dict:
    log = folder / "processes.log"
    # the feed honours B's X-Poll-Interval (60 s by default, as GitHub's): every second here, as the polls
    b = start(["provider", "--settle-mean", "1", "--poll-interval", "1"], free_port(), log)
    a: Child | None = None
    try:
        a_port = free_port()
        args = ["consumer", "--provider", b.url, "--mode", mode, "--interval", "1"]
        if mode == "webhook":
            args += ["--public-url", f"http://127.0.0.1:{a_port}"]
        a = start(args, a_port, log)
        procs = {"B": psutil.Process(b.proc.pid), "A": psutil.Process(a.proc.pid)}
        before = {name: sum(p.cpu_times()[:2]) for name, p in procs.items()}
        traffic_before = httpx.get(b.url + "/health", timeout=5).json()["traffic"]
        started = time.monotonic()
        with httpx.Client(base_url=a.url, timeout=10) as client:
            for _ in range(payments):
                client.post("/orders", json={"amount": 1999, "currency": "eur"}).raise_for_status()

            def settled() -> bool:
                known = client.get(PAYMENTS_PATH).json()["data"]
                return len(known) >= payments and all(p["status"] in ("succeeded", "failed") for p in known)

            # the same window for every mode, asked rarely (each question costs A some CPU too)
            time.sleep(max(0.0, seconds - (time.monotonic() - started)))
            while not settled():
                if time.monotonic() - started > 60:
                    raise TimeoutError(f"A ({mode}) did not learn how every payment settled within 60 s")
                time.sleep(0.5)
        used = {name: sum(p.cpu_times()[:2]) - before[name] for name, p in procs.items()}
        a.stop()  # a stream or a held poll ends: B counts its bytes
        a = None
        traffic = httpx.get(b.url + "/health", timeout=5).json()["traffic"]
    finally:
        if a is not None:
            a.stop()
        b.stop()
    return {
        "B_cpu_ms_per_payment": round(1000 * used["B"] / payments, 1),
        "A_cpu_ms_per_payment": round(1000 * used["A"] / payments, 1),
        "requests": traffic["requests"] - traffic_before["requests"],
        "kB": round((traffic["bytes"] - traffic_before["bytes"]) / 1000, 1),
    }
