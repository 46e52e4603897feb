"""How fast is the virtual-time simulation? Prints figures; asserts nothing.

  1. The reference scenario: 100 records x 1 simulated hour, Poisson changes (one a minute per
     record), polling every 10 s (36,000 polls). Target (issue 12): under 30 ms. Both engines,
     and their ratio in the same run; "cold" clears the kept draws first, as a fresh process has.
  2. A sweep of 20 polling intervals (``hooklab.sim.SWEEP_INTERVALS``, 5 s to 600 s) over 1,000
     records x 1 h (3.3 million polls). Target: under 1 s. Default workers and one process.
  3. Simulated requests per second of wall time, per engine and mode.
  4. Scaling of the event engine: run time over records x simulated duration (linear in both).
  5. Why not SimPy: the event loop's own overhead, SimPy against ``heapq``, with no model work.
  6. A week of webhooks with a real provider's schedule (svix, stripe) and A down for 2 hours
     (issue 10: "well under a second"), at 20, 50 and 100 records changing once an hour each; the
     event engine runs these (outages make B retry).

Times are the best of a few repeats (wall clock, ``time.perf_counter``): the machine may be
shared, and the best run is the one least disturbed. Runs in about a minute.

    python benchmarks/bench_sim.py
"""

from __future__ import annotations

import heapq
import os
import platform
import random
import statistics
import time

import numpy as np

from hooklab.sim import SWEEP_INTERVALS, simulate, sweep, vector, workloads


def timed(fn, repeat: int = 5) -> tuple[float, float, object]:
    """(best, median) wall seconds of ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), result


def scenario(
    mode: str = "poll",
    records: int = 100,
    duration_s: float = 3600.0,
    interval_s: float = 10.0,
    engine: str = "auto",
):
    # reconcile_s is the hybrid's poll interval (with webhooks alone it would add a GET /events reader)
    extra = {"reconcile_s": interval_s} if mode == "hybrid" else {}
    return simulate(mode, interval_s=interval_s, records=records, rate_per_s=1 / 60, duration_s=duration_s,
                    seed=0, engine=engine, **extra)  # fmt: skip


def bare_simpy(records: int, interval_s: float, duration_s: float) -> int:
    import simpy

    env, count = simpy.Environment(), [0]
    rng = random.Random(0)

    def poller():
        yield env.timeout(rng.random() * interval_s)
        while True:
            yield env.timeout(0.001)  # to B
            yield env.timeout(0.001)  # back to A
            count[0] += 1
            yield env.timeout(interval_s - 0.002)

    for _ in range(records):
        env.process(poller())
    env.run(until=duration_s)
    return count[0]


def bare_heapq(records: int, interval_s: float, duration_s: float) -> int:
    rng = random.Random(0)
    heap = [(rng.random() * interval_s, i, 0) for i in range(records)]
    heapq.heapify(heap)
    count, seq = 0, records
    while heap:
        t, _, step = heapq.heappop(heap)
        if t > duration_s:
            break
        seq += 1
        if step == 2:
            count += 1
            heapq.heappush(heap, (t + interval_s - 0.002, seq, 0))
        else:
            heapq.heappush(heap, (t + 0.001, seq, step + 1))
    return count


def cold(fn):
    """``fn`` with the kept draws (each record's delays and change times) forgotten first."""

    def run():
        vector.record_delays.cache_clear()
        workloads._record_arrivals.cache_clear()
        return fn()

    return run


def main() -> None:
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}")
    scenario(records=10, duration_s=600)  # warm up imports and caches

    print("\n1. 100 records x 3600 simulated s, Poisson 1/60 s per record, polling every 10 s")
    best, median, run = timed(scenario, repeat=9)
    s = run.summary
    print(f"   vector engine: {s['requests']} polls, {s['changes']} changes: best {best * 1e3:.1f} ms,"
          f" median {median * 1e3:.1f} ms  (target < 30 ms)")  # fmt: skip
    best_cold, _, _ = timed(cold(scenario), repeat=5)
    print(f"   vector engine, cold (draws made afresh): best {best_cold * 1e3:.1f} ms")
    best_events, _, run_events = timed(lambda: scenario(engine="events"), repeat=3)
    assert run_events.summary == s  # the same result (tests/test_vector.py checks the frames too)
    print(f"   event engine:  best {best_events * 1e3:.1f} ms: {best_events / best:.0f}x the vector engine")

    print(
        f"\n2. sweep of {len(SWEEP_INTERVALS)} intervals, {SWEEP_INTERVALS[0]:g} s to {SWEEP_INTERVALS[-1]:g} s"
    )
    for records in (100, 1000):
        best, median, frame = timed(lambda r=records: sweep(SWEEP_INTERVALS, records=r), repeat=3)
        best1, median1, _ = timed(lambda r=records: sweep(SWEEP_INTERVALS, records=r, workers=1), repeat=3)
        target = "  (target < 1 s)" if records == 1000 else ""
        print(f"   {records} records, {int(frame['requests'].sum()):,} polls: default workers best {best:.3f} s,"
              f" median {median:.3f} s; one process best {best1:.3f} s, median {median1:.3f} s{target}")  # fmt: skip

    print("\n3. simulated requests per second of wall time")
    for engine in ("vector", "events"):
        for mode, interval in (("poll", 2.0), ("poll", 10.0), ("webhook", 10.0), ("hybrid", 60.0)):
            best, _, run = timed(
                lambda m=mode, i=interval, e=engine: scenario(m, interval_s=i, engine=e), repeat=3
            )
            n = run.summary["requests"]
            label = f"{mode} every {interval:g} s" if mode != "webhook" else mode
            print(f"   {engine:6} {label:18} {n:7d} requests in {best:.3f} s = {n / best:11,.0f} requests/s")

    print(
        "\n4. event engine scaling: wall seconds (best of 3), polling every 10 s; per-request microseconds in brackets"
    )
    records_list, durations = (50, 100, 200, 400), (900, 1800, 3600, 7200)
    print("   records \\ duration " + "".join(f"{d:>16d}" for d in durations))
    cells = []
    for records in records_list:
        row = []
        for duration in durations:
            best, _, run = timed(lambda r=records, d=duration: scenario(records=r, duration_s=d, engine="events"),
                                 repeat=3)  # fmt: skip
            row.append(f"{best:7.3f} ({best / run.summary['requests'] * 1e6:4.1f})")
            cells.append((records * duration, best))
        print(f"   {records:19d} " + "".join(f"{c:>16}" for c in row))
    x, y = np.array(cells, dtype=float).T
    slope, intercept = np.polyfit(x, y, 1)
    r2 = 1 - ((y - (slope * x + intercept)) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    print(f"   linear fit over records x duration: {slope * 1e6:.3f} s per million record-seconds"
          f" + {intercept * 1e3:.1f} ms, R^2 = {r2:.4f}")  # fmt: skip

    print("\n5. event loop overhead alone: 100 records polled every 10 s for an hour, 3 events per poll")
    for name, fn in (("simpy", bare_simpy), ("heapq", bare_heapq)):
        best, _, n = timed(lambda f=fn: f(100, 10.0, 3600.0), repeat=5)
        print(f"   {name:6} {n} polls in {best:.3f} s ({best / n * 1e6:.2f} us per poll)")

    print("\n6. a week (604,800 simulated s) of webhooks, A down 2 h from 10 min in, best of 3")
    for records in (20, 50, 100):
        for policy in ("svix", "stripe"):
            best, median, run = timed(
                lambda r=records, p=policy: simulate("webhook", retry_schedule=p, outages=[(600.0, 7200.0)],
                                                     records=r, rate_per_s=1 / 3600, duration_s=7 * 86400.0),
                repeat=3,
            )  # fmt: skip
            s = run.summary
            print(f"   {records:3d} records, {policy:6}: {s['changes']:6,} changes, {s['retries']:5,} retries, "
                  f"lost {s['lost']}: best {best:.3f} s, median {median:.3f} s")  # fmt: skip


if __name__ == "__main__":
    main()
