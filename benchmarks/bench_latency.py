"""Latencies the tests used to assert with wall-clock thresholds, measured here instead.

The tests check behaviour (what happened, in which order); how long it took depends on how busy
the machine is, so it is printed here, where a person reads it next to the machine's load:

  1. a long poll: how soon after B's event the held ``GET /events?wait=60`` answers;
  2. A with ``--ack inbox`` and 0.3 s of work per event: how long B waits for each answer;
  3. live polling every 0.25 s: the largest detection latency (at most one interval plus a hop);
  4. a healthy endpoint beside 20 black holes: its delivery latency, p50 and max;
  5. live against simulated (the same seed): requests and mean latency, poll and webhook.

    python benchmarks/bench_latency.py
"""

from __future__ import annotations

import os
import time

import httpx

from hooklab.core.provider import SettlementModel
from hooklab.lab.reliability import healthy_beside_dead
from hooklab.live.provider_app import ProviderService
from hooklab.live.runs import run_live, synced, wait_until
from hooklab.live.serving import serve
from hooklab.live.shop_app import ShopService
from hooklab.sim import simulate

QUICK = SettlementModel(mean_s=0.3, min_s=0.05, failure_share=0.0)


def long_poll_answer() -> None:
    b = ProviderService(seed=5, settlement=SettlementModel(mean_s=0.7, min_s=0.4, failure_share=0))
    with serve(b.app) as run, httpx.Client(base_url=run.url, timeout=90) as client:
        client.post("/payments", json={"amount": 5, "currency": "eur"})
        client.get("/events?wait=60")
        answered = time.time()
        event_at = b.core.events[0]["created"]
    print(f"1. long poll answered {1000 * (answered - event_at):.1f} ms after B's event")


def inbox_answer() -> None:
    b = ProviderService(seed=5, settlement=QUICK)
    with serve(b.app) as b_run:
        shop = ShopService(b_run.url, mode="webhook", ack="inbox", work_s=0.3)
        with serve(shop.app) as a_run:
            shop.register_webhook(a_run.url)
            for _ in range(8):
                shop.create_payment()
            wait_until(lambda: synced(b, shop), 30, "A to apply its inbox")
        shop.close()
    took = [a.ended_at - a.started_at for d in b.core.deliveries.values() for a in d.attempts]
    print(f"2. --ack inbox with 0.3 s of work: B waited at most {1000 * max(took):.1f} ms for an answer")


def poll_latency() -> None:
    run = run_live("poll", payments=30, interval_s=0.25, seed=11, settlement=QUICK)
    print(f"3. polling every 0.25 s: detection latency max {run.summary['latency_max_s']:.3f} s")


def beside_black_holes() -> None:
    result = healthy_beside_dead(20, payments=60)
    print(f"4. healthy endpoint beside 20 black holes: p50 {result['p50_ms']} ms, max {result['max_ms']} ms")


def live_against_simulated() -> None:
    settlement = SettlementModel(mean_s=1.0)
    for mode in ("poll", "webhook"):
        live = run_live(mode, payments=20, interval_s=0.5, seed=3, settlement=settlement)
        sim = simulate(mode, interval_s=0.5, records=20, seed=3, workload="settlement", settlement=settlement)
        ls, ss = live.summary, sim.summary
        print(f"5. {mode:>7}: requests live {ls['requests']} / simulated {ss['requests']}; mean latency "
              f"live {ls['latency_mean_s']:.3f} s / simulated {ss['latency_mean_s']:.3f} s")  # fmt: skip


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for section in (long_poll_answer, inbox_answer, poll_latency, beside_black_holes, live_against_simulated):
        section()


if __name__ == "__main__":
    main()
