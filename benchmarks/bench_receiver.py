"""How many signed events a second does A's webhook endpoint store, against a bare Starlette app on
the same uvicorn? (The stability issue: at least 2,000 durable events/s, at least 35% of the bare
app, p99 at most 50 ms, 0 lost, 0 fulfilled twice, on the 2-core reference machine.)

B and A run as ``hooklab`` processes, A with ``--db`` (A registers with B and keeps the secret B
gave it). Debian's ``wrk`` (one thread, 32 connections, ``--duration`` seconds) cycles through
distinct, correctly signed 1 KB events (each a payment that succeeded), written into a Lua script;
the bare app (one route answering 200) gets the same load in the same run. Then A's database is
read: every event A acknowledged must be stored, and each payment fulfilled once.

The machine's speed drifts from minute to minute (the bare app alone varies by a tenth), so A and
the bare app take turns, ``--rounds`` times, and the medians are judged; each round of A's sends
events it has not seen, and the bare app's turn waits until A's worker has applied them all.

    python benchmarks/bench_receiver.py                           # 3 rounds of 8 s each
    python benchmarks/bench_receiver.py --rounds 1 --duration 3   # quicker, noisier
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from hooklab.core.contract import SIGNATURE_HEADER, WEBHOOK_PATH
from hooklab.lab.hostile import signed_events
from hooklab.lab.stability_live import inbox_empty
from hooklab.live.processes import Child, free_port, start, wait_started
from hooklab.live.runs import wait_until

TARGET_EVENTS_S, TARGET_SHARE, TARGET_P99_MS = 2000, 0.35, 50
BARE_APP = """
import sys
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from hooklab.live.serving import run

async def receive(request):
    await request.body()
    return JSONResponse({"received": True})

run(Starlette(routes=[Route("/webhooks/payments", receive, methods=["POST"])]), int(sys.argv[1]),
    log_level="warning")
"""


def lua_script(events: list[tuple[str, bytes]], path: Path) -> None:
    """A wrk script that sends the events in turn (each thread from its own start)."""

    def lua_string(text: str) -> str:
        return "[==[" + text + "]==]"

    lines = ["local events = {"]
    lines += [f"  {{{lua_string(h)}, {lua_string(b.decode())}}}," for h, b in events]
    lines += ["}", "local i = 0", "request = function()", "  i = i % #events + 1",
              f'  return wrk.format("POST", nil, {{["Content-Type"] = "application/json", '
              f'["{SIGNATURE_HEADER}"] = events[i][1]}}, events[i][2])', "end"]  # fmt: skip
    path.write_text("\n".join(lines))


def run_wrk(url: str, script: Path, duration_s: int, connections: int = 32) -> dict:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration_s + 60,
    ).stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "requests": requests,
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0, "p50_ms": ms("50%"), "p99_ms": ms("99%"),
            "socket_errors": errors.group(1) if errors else "none"}  # fmt: skip


def wait_applied(db_path: Path, timeout_s: float = 60) -> None:
    """Wait until A's worker has applied everything in its inbox (so it is idle for the bare app's turn)."""
    wait_until(lambda: inbox_empty(db_path), timeout_s, "A's inbox to drain")


def start_bare(port: int) -> subprocess.Popen:
    bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip

    def answers() -> bool:
        try:
            return httpx.post(f"http://127.0.0.1:{port}{WEBHOOK_PATH}", timeout=0.5).status_code == 200
        except httpx.TransportError:
            return False

    wait_started(bare, answers, "the bare app", Path(os.devnull))
    return bare


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds of load for each app (default 8)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="A then the bare app, this many times; medians judged (default 3)")  # fmt: skip
    parser.add_argument(
        "--events", type=int, default=40_000, help="distinct signed events a round (default 40,000)"
    )
    parser.add_argument(
        "--consumer-args", default="", help="more `hooklab consumer` options, e.g. '--sqlite-sync normal'"
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("skipped: needs Debian's wrk (apt-get install wrk)")
        return 0
    folder = Path(tempfile.mkdtemp(prefix="bench-receiver-"))
    log = folder / "processes.log"
    b = start(["provider"], free_port(), log)
    a_port = free_port()
    a_url = f"http://127.0.0.1:{a_port}"
    a: Child | None = None
    bare = None
    try:
        a = start(["consumer", "--provider", b.url, "--mode", "webhook", "--db", str(folder / "a.db"),
                   "--public-url", a_url, *args.consumer_args.split()], a_port, log)  # fmt: skip
        with sqlite3.connect(folder / "a.db") as db:
            [secret] = [row[0] for row in db.execute("SELECT secret FROM webhook_secrets")]
        started = time.perf_counter()
        events = signed_events(secret, args.events * args.rounds, time.time())
        scripts = [folder / f"round{r}.lua" for r in range(args.rounds)]
        for r, script in enumerate(scripts):  # each round of A's its own events: none is a duplicate
            lua_script(events[r * args.events : (r + 1) * args.events], script)
        print(f"{len(events):,} signed events of {len(events[0][1])} bytes in {time.perf_counter() - started:.1f} s; "
              f"{args.rounds} rounds of {args.duration} s each for A, then the bare app")  # fmt: skip
        bare_port = free_port()
        bare = start_bare(bare_port)
        rounds = []
        for script in scripts:
            at_a = run_wrk(a_url + WEBHOOK_PATH, script, args.duration)
            wait_applied(folder / "a.db")
            at_bare = run_wrk(f"http://127.0.0.1:{bare_port}{WEBHOOK_PATH}", script, args.duration)
            rounds.append((at_a, at_bare))
        a.stop()  # stop A before reading its database: every answered event committed
        a = None
        with sqlite3.connect(folder / "a.db") as db:
            stored = db.execute("SELECT COUNT(*) FROM processed_events").fetchone()[0]
            fulfilled = db.execute("SELECT COUNT(*), COUNT(DISTINCT payment_id) FROM fulfilments").fetchone()
        acknowledged = sum(at_a["requests"] - at_a["non_2xx"] for at_a, _ in rounds)
        # past its round's events wrk would send them again (duplicates): count at most those
        distinct = sum(min(at_a["requests"] - at_a["non_2xx"], args.events) for at_a, _ in rounds)
        lost = max(0, distinct - stored)  # wrk stops counting with requests in flight: A may store more
        twice = fulfilled[0] - fulfilled[1]
        print(f"\n{'':22} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>8}  socket errors  share")
        for r, (at_a, at_bare) in enumerate(rounds, 1):
            for name, res in ((f"A (hooklab consumer) {r}", at_a), (f"bare Starlette {r}", at_bare)):
                share = f"{at_a['per_s'] / at_bare['per_s']:6.0%}" if res is at_a else ""
                print(f"{name:22} {res['per_s']:9,.0f} {res['p50_ms']:7.1f} {res['p99_ms']:7.1f} {res['non_2xx']:8,}  "
                      f"{res['socket_errors']:13}  {share}")  # fmt: skip
        per_s = statistics.median(at_a["per_s"] for at_a, _ in rounds)
        p99 = statistics.median(at_a["p99_ms"] for at_a, _ in rounds)
        share = statistics.median(at_a["per_s"] / at_bare["per_s"] for at_a, at_bare in rounds)
        print(f"\nmedians of {args.rounds}: A {per_s:,.0f} events/s, p99 {p99:.1f} ms, {share:.0%} of the bare app; "
              f"acknowledged {acknowledged:,} ({distinct:,} distinct), stored {stored:,}: lost {lost}; "
              f"fulfilled {fulfilled[0]:,} rows for {fulfilled[1]:,} payments: twice {twice}")  # fmt: skip
        met = (per_s >= TARGET_EVENTS_S, share >= TARGET_SHARE, p99 <= TARGET_P99_MS, lost == 0, twice == 0)
        print(f"targets: >= {TARGET_EVENTS_S:,} events/s {met[0]}, >= {TARGET_SHARE:.0%} of bare {met[1]}, "
              f"p99 <= {TARGET_P99_MS} ms {met[2]}, 0 lost {met[3]}, 0 fulfilled twice {met[4]}")  # fmt: skip
    finally:
        if bare is not None:
            bare.kill()
            bare.wait()
        if a is not None:
            a.stop()
        b.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
