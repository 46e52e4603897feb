"""A receiver fleet on PostgreSQL, live (notebook 07, section 7; benchmarks/bench_fleet.py;
tests/test_fleet.py): how applying scales with worker processes, and what a SIGKILL costs.

Each function starts its own throwaway PostgreSQL server (:mod:`hooklab.live.postgres_server`)
and its own processes, and stops them (by their own ids) when done.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd

from hooklab.core.contract import FINAL_STATUSES, SIGNATURE_HEADER, WEBHOOK_PATH
from hooklab.core.shop import Shop
from hooklab.core.signing import sign_stripe
from hooklab.lab.chaos import _every
from hooklab.lab.hostile import signed_events
from hooklab.live.postgres_server import Cluster, throwaway_cluster
from hooklab.live.processes import Child, free_port, spawn, start
from hooklab.live.runs import wait_until
from hooklab.live.store_postgres import PostgresStore
from hooklab.measure.progress import tracking


def postgres_installed() -> bool:
    """Whether this machine can start a throwaway PostgreSQL server (``initdb`` is installed)."""
    from hooklab.live.postgres_server import find_initdb

    return find_initdb() is not None


@contextlib.contextmanager
def _cluster(cluster: Cluster | None) -> Iterator[Cluster]:
    if cluster is not None:
        yield cluster
        return
    with throwaway_cluster() as made:
        yield made


def _rows(db: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(db) as conn:
        return conn.execute(sql).fetchall()


def fleet_scaling(workers: tuple[int, ...] = (1, 2, 4), *, events: int = 600, work_s: float = 0.01,
                  cluster: Cluster | None = None) -> pd.DataFrame:  # fmt: skip
    """``events`` waiting in A's inbox, applied by 1, 2, 4 ``hooklab worker`` processes, each event
    taking ``work_s`` of I/O (a carrier's API, say) while its claim is held: events applied a
    second, and the speed-up over one worker."""
    rows = []
    with _cluster(cluster) as pg, tracking(total=len(workers), desc="fleets timed", unit="fleet") as done:
        for n in workers:
            db = pg.create_database(f"scaling_{n}_{time.monotonic_ns()}")
            store = PostgresStore(db)  # makes the tables
            log = Path(tempfile.mkdtemp(prefix="hooklab-fleet-")) / "workers.log"
            procs = [
                spawn(["worker", "--db", db, "--work", str(work_s), "--idle", "0.02"], log) for _ in range(n)
            ]
            try:  # timed from when they are all up and waiting, so a process's start-up is not counted
                wait_until(lambda log=log, n=n: log.exists() and log.read_text().count("applying") >= n, 60,
                           "the workers to start")  # fmt: skip
                shop = Shop(webhook_secrets=["whsec_fleet"], store=store, defer=True)
                now = time.time()
                arrived = [(json.loads(body), now) for _, body in signed_events("whsec_fleet", events, now)]
                started = time.perf_counter()
                shop.accept_webhooks(arrived)  # one commit: all waiting at once
                wait_until(
                    lambda db=db: _rows(db, "SELECT COUNT(*) FROM inbox")[0][0] == 0,
                    300,
                    "the inbox to empty",
                )
                took = time.perf_counter() - started
            finally:
                for proc in procs:
                    proc.stop()
                store.close()
            twice = _rows(db, "SELECT COUNT(*) - COUNT(DISTINCT payment_id) FROM fulfilments")[0][0]
            rows.append({"workers": n, "events": events, "seconds": round(took, 2),
                         "events_per_s": round(events / took), "fulfilled_twice": twice})  # fmt: skip
            done.update(1)
    table = pd.DataFrame(rows).set_index("workers")
    table["speed_up"] = (table.events_per_s / table.events_per_s.iloc[0]).round(2)
    return table


def fleet_under_fire(payments: int = 400, *, cluster: Cluster | None = None) -> dict:
    """A fleet (2 endpoint processes on one port, 4 workers) receiving B's ``payments`` events, each
    also sent again concurrently by 4 threads; a worker is killed with SIGKILL mid-claim, then an
    endpoint. What A ends with against what B knows: lost, fulfilled twice, equal views."""
    with _cluster(cluster) as pg:
        db = pg.create_database(f"fire_{time.monotonic_ns()}")
        folder = Path(tempfile.mkdtemp(prefix="hooklab-fleet-"))
        log = folder / "processes.log"
        b = start(
            ["provider", "--settle-mean", "0.5", "--retries", "fast", "--failure-share", "0.1"],
            free_port(),
            log,
        )
        children: list[Child] = [b]
        try:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            endpoint = ["consumer", "--provider", b.url, "--mode", "webhook", "--db", db, "--public-url", url,
                        "--workers", "0", "--reuse-port"]  # fmt: skip
            endpoints = [start(endpoint, port, log), start(endpoint, port, log)]
            workers = [spawn(["worker", "--db", db, "--work", "0.002"], log) for _ in range(4)]
            children += endpoints + workers
            [(secret,)] = _rows(db, "SELECT secret FROM webhook_secrets")
            result = _fire(b, url, db, secret, payments, workers[0], endpoints[0])
        finally:
            for child in children:
                child.stop()
    return result


def _fire(b: Child, url: str, db: str, secret: str, payments: int, worker: Child, endpoint: Child) -> dict:
    stop, resent = threading.Event(), []

    def resend() -> None:  # concurrent duplicates: every event B emitted, sent again
        with httpx.Client(timeout=10) as sender:
            while not stop.is_set():
                for event in _every(sender, f"{b.url}/events"):
                    if stop.is_set():
                        return
                    body = json.dumps(event).encode()
                    header = {SIGNATURE_HEADER: sign_stripe(body, secret, int(time.time()))}
                    with contextlib.suppress(httpx.TransportError):  # an endpoint being killed
                        sender.post(url + WEBHOOK_PATH, content=body, headers=header)
                        resent.append(event["id"])

    def fulfilled() -> int:
        return _rows(db, "SELECT COUNT(*) FROM fulfilments")[0][0]

    with httpx.Client(base_url=b.url, timeout=10) as client, concurrent.futures.ThreadPoolExecutor(4) as pool:
        with tracking(total=payments, desc="payments made at B", unit="payment") as made:
            ids = []
            for _ in range(payments):
                ids.append(client.post("/payments", json={"amount": 1999, "currency": "eur"}).json()["id"])
                made.update(1)
        futures = [pool.submit(resend) for _ in range(4)]
        wait_until(lambda: fulfilled() >= payments // 10, 120, "a tenth fulfilled")
        worker.kill()  # SIGKILL, most likely holding a claim (each event takes 2 ms of work)
        wait_until(lambda: fulfilled() >= payments // 5, 120, "a fifth fulfilled")
        endpoint.kill()  # SIGKILL: its requests in flight fail; B retries, the other endpoint answers
        at_b: dict = {}

        def caught_up() -> bool:
            at_b.update({pid: client.get(f"/payments/{pid}").json() for pid in ids})
            succeeded = sum(p["status"] == "succeeded" for p in at_b.values())
            return (all(p["status"] in FINAL_STATUSES for p in at_b.values())
                    and not _rows(db, "SELECT 1 FROM inbox LIMIT 1") and fulfilled() >= succeeded)  # fmt: skip

        wait_until(caught_up, 240, "A to apply every change B made")
        stop.set()
        for future in futures:
            future.result(timeout=60)
    at_a = {pid: json.loads(body) for pid, body in _rows(db, "SELECT id, body FROM payments")}
    shipped = [pid for (pid,) in _rows(db, "SELECT payment_id FROM fulfilments")]
    succeeded = {pid for pid, p in at_b.items() if p["status"] == "succeeded"}
    return {
        "events": _rows(db, "SELECT COUNT(*) FROM processed_events")[0][0],
        "sent_again": len(resent),
        "lost": sum(1 for pid in ids if at_a.get(pid) != at_b[pid]),
        "fulfilled_twice": len(shipped) - len(set(shipped)),
        "unfulfilled": len(succeeded - set(shipped)),
        "a_equals_b": {pid: at_a.get(pid) for pid in ids} == at_b,
    }
