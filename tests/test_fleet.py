"""A receiver fleet on one PostgreSQL database, over real processes and a real server: endpoint
processes sharing one port store, worker processes claim (``FOR UPDATE SKIP LOCKED``) and apply;
a worker and an endpoint are killed with SIGKILL mid-load. Nothing is lost, nothing is fulfilled
twice, and A's view equals B's."""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time

import httpx
import psycopg
import pytest

from hooklab.core.contract import FINAL_STATUSES, SIGNATURE_HEADER, WEBHOOK_PATH
from hooklab.core.signing import sign_stripe
from hooklab.lab.chaos import _every
from hooklab.live.processes import free_port, spawn, start
from hooklab.live.runs import wait_until

PAYMENTS = 2000  # each settles once: 2,000 events


def _rows(db: str, sql: str) -> list[tuple]:
    with psycopg.connect(db) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.slow
def test_a_fleet_loses_nothing_and_fulfils_once_with_a_worker_and_an_endpoint_killed(
    postgres_cluster, tmp_path
):
    db = postgres_cluster.create_database("fleet")
    log = tmp_path / "processes.log"
    b = start(
        ["provider", "--settle-mean", "0.5", "--retries", "fast", "--failure-share", "0.1"], free_port(), log
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    endpoint = ["consumer", "--provider", b.url, "--mode", "webhook", "--db", db, "--public-url", url,
                "--workers", "0", "--reuse-port"]  # fmt: skip
    children = [b]
    try:
        endpoints = [start(endpoint, port, log)]
        endpoints.append(start(endpoint, port, log))  # a second process on the same port
        children += endpoints
        workers = [spawn(["worker", "--db", db, "--work", "0.002"], log) for _ in range(4)]
        children += workers
        [(secret,)] = _rows(db, "SELECT secret FROM webhook_secrets")

        with httpx.Client(base_url=b.url, timeout=10) as client:
            ids = [client.post("/payments", json={"amount": 1999, "currency": "eur"}).json()["id"]
                   for _ in range(PAYMENTS)]  # fmt: skip

            # concurrent duplicates: every event B emitted, sent again by 4 threads while B delivers it
            stop = threading.Event()
            resent = []

            def resend() -> None:
                with httpx.Client(timeout=10) as sender:
                    while not stop.is_set():
                        for event in _every(sender, f"{b.url}/events"):
                            if stop.is_set():
                                return
                            body = json.dumps(event).encode()
                            header = sign_stripe(body, secret, int(time.time()))
                            try:
                                sender.post(
                                    url + WEBHOOK_PATH, content=body, headers={SIGNATURE_HEADER: header}
                                )
                                resent.append(event["id"])
                            except httpx.TransportError:
                                pass  # an endpoint being killed: B's retries carry its events

            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                futures = [pool.submit(resend) for _ in range(4)]
                fulfilled = lambda: _rows(db, "SELECT COUNT(*) FROM fulfilments")[0][0]  # noqa: E731
                wait_until(lambda: fulfilled() >= 200, 120, "200 fulfilments")
                workers[0].kill()  # SIGKILL, holding a claim (each event takes 2 ms of work)
                wait_until(lambda: fulfilled() >= 400, 120, "400 fulfilments")
                endpoints[0].kill()  # SIGKILL: requests in flight to it fail, B retries on the other
                at_b: dict = {}

                def agreed() -> bool:
                    at_b.update({pid: client.get(f"/payments/{pid}").json() for pid in ids})
                    settled = all(p["status"] in FINAL_STATUSES for p in at_b.values())
                    return (
                        settled
                        and not _rows(db, "SELECT 1 FROM inbox LIMIT 1")
                        and fulfilled() >= sum(p["status"] == "succeeded" for p in at_b.values())
                    )

                wait_until(agreed, 240, "A to apply every change B made")
                stop.set()
                for future in futures:
                    future.result(timeout=60)
        at_a = {pid: json.loads(body) for pid, body in _rows(db, "SELECT id, body FROM payments")}
        rows = _rows(db, "SELECT payment_id FROM fulfilments")
        succeeded = {pid for pid, p in at_b.items() if p["status"] == "succeeded"}
        distinct = _rows(db, "SELECT COUNT(*) FROM processed_events")[0][0]
    finally:
        for child in children:
            child.stop()
    assert {pid: at_a.get(pid) for pid in ids} == at_b  # A's view equals B's: nothing lost
    assert len(rows) == len({pid for (pid,) in rows}) == len(succeeded)  # each fulfilled once
    assert {pid for (pid,) in rows} == succeeded
    assert distinct == PAYMENTS  # each event processed once ...
    assert len(resent) > PAYMENTS / 2  # ... though many came twice or more, at the same time
    print(f"\n{PAYMENTS} events, {len(resent)} sent again concurrently; {len(rows)} fulfilled once each")
