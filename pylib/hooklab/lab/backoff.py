"""What a client does when B answers ``429``: live, several workers sharing one quota (notebook 06).

Each worker needs ``requests_each`` answers from B's ``GET /payments/{id}``; B allows ``limit``
requests per window for them all (they share one address, as workers share one API token). On a
``429`` a worker either tries again at once, waits what ``Retry-After`` says, or waits that and then
backs off exponentially with full jitter (:func:`hooklab.core.retry.full_jitter_s`), so that the
workers that were refused together do not all come back at the same instant.
"""

from __future__ import annotations

import concurrent.futures
import random
import time

import httpx
import pandas as pd

from hooklab.core.retry import full_jitter_s, parse_retry_after
from hooklab.live.provider_app import ProviderService
from hooklab.live.serving import serve
from hooklab.measure.progress import tracking

#: The ways a worker answers a 429, in the order the notebook shows them.
STRATEGIES = ("at once", "Retry-After", "Retry-After + full jitter")

#: No worker sends more than this many requests (a client that ignores 429 would go on forever).
MAX_ATTEMPTS_EACH = 400


def _worker(client: httpx.Client, url: str, needed: int, strategy: str, rng: random.Random) -> dict:
    sent = refused = 0
    refused_in_a_row = 0
    retried_at = []  # when each retry after a 429 was sent
    while needed and sent < MAX_ATTEMPTS_EACH:
        if refused_in_a_row:
            retried_at.append(time.monotonic())
        answer = client.get(url)
        sent += 1
        if answer.status_code != 429:
            needed -= 1
            refused_in_a_row = 0
            continue
        refused += 1
        refused_in_a_row += 1
        if strategy == "at once":
            continue
        wait_s = parse_retry_after(answer.headers.get("retry-after"), time.time()) or 1.0
        if strategy == "Retry-After + full jitter":
            wait_s += full_jitter_s(refused_in_a_row, rng, base_s=0.5, cap_s=4.0)
        time.sleep(wait_s)  # what B asked for: real seconds, a real client's wait
    return {"sent": sent, "refused": refused, "missing": needed, "retried_at": retried_at}


def _largest_burst(times: list[float], window_s: float = 0.1) -> int:
    """The most requests sent within any ``window_s``: how hard the workers hit B at once."""
    times = sorted(times)
    first, most = 0, 0
    for last, t in enumerate(times):
        while t - times[first] > window_s:
            first += 1
        most = max(most, last - first + 1)
    return most


def share_one_quota(
    *, workers: int = 4, requests_each: int = 10, limit: str = "20/1", seed: int = 0
) -> pd.DataFrame:
    """One row per strategy (:data:`STRATEGIES`): requests sent, ``429`` answers, answers missing at
    the end (a worker gives up after :data:`MAX_ATTEMPTS_EACH`), the most retries sent within any
    100 ms (the herd that comes back together), and seconds until every worker had its answers. A fresh B for each, rate limited to ``limit`` (``N/seconds``)."""
    rows = []
    with tracking(total=len(STRATEGIES), desc="strategies run live", unit="strategy") as done:
        for strategy in STRATEGIES:
            b = ProviderService(seed=seed, rate_limit=limit)
            with serve(b.app) as running, httpx.Client(timeout=10) as client:
                payment = client.post(
                    f"{running.url}/payments", json={"amount": 1999, "currency": "eur"}
                ).json()
                url = f"{running.url}/payments/{payment['id']}"
                started = time.monotonic()
                with concurrent.futures.ThreadPoolExecutor(workers) as pool:
                    futures = [pool.submit(_worker, client, url, requests_each, strategy, random.Random(seed * 1000 + w))
                               for w in range(workers)]  # fmt: skip
                    results = [future.result() for future in futures]
                seconds = time.monotonic() - started
            rows.append({
                "strategy": strategy,
                "requests sent": sum(r["sent"] for r in results),
                "429 answers": sum(r["refused"] for r in results),
                "answers missing": sum(r["missing"] for r in results),
                "largest burst of retries (per 100 ms)": _largest_burst([t for r in results for t in r["retried_at"]]),
                "seconds": round(seconds, 1),
            })  # fmt: skip
            done.update()
    return pd.DataFrame(rows).set_index("strategy")
