"""How long do the notebooks' cells take, at their defaults and at the largest values their
comments invite? Prints figures; asserts nothing (tests/test_notebook_speed.py runs the invited
variants and checks that they still run).

Targets (issue 12), on the reference 2-core machine: every simulated cell under 1 s at the
defaults and under 3 s at the largest invited values; the 01 slider redraws in under 0.3 s at 200
records; the whole series under strict nbval within 90 s. Each notebook runs in a fresh kernel, on
a copy in a temporary folder (nothing in notebooks/ changes); cell times are the kernel's own.

    python benchmarks/bench_notebooks.py            # defaults, invited values and the slider
    python benchmarks/bench_notebooks.py --quick    # invited values of 01 and 04 only
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path

from hooklab.lab.notebook_tools import series, timed_run

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

#: The largest value each parameter's comment invites ("try ..."), as edits of the parameter cells.
INVITED: dict[str, list[tuple[str, str]]] = {
    "01-api-polling.ipynb": [
        ("POLL_INTERVAL_S = 0.5  #", "POLL_INTERVAL_S = 0.1  #"),
        ("PAYMENTS = 5  #", "PAYMENTS = 20  #"),
        ("RECORDS = 50  #", "RECORDS = 200  #"),
        ("RATE_PER_S = 1 / 600  #", "RATE_PER_S = 1 / 60  #"),
        ("SIM_INTERVAL_S = 10  #", "SIM_INTERVAL_S = 2  #"),
        ("INTERVALS_S = [5, 10, 20, 30, 60, 120, 300, 600, 1200]",
         "INTERVALS_S = [2, 3, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 3600]"),
    ],
    "02-webhooks.ipynb": [
        ("PAYMENTS = 8  #", "PAYMENTS = 20  #"),
        ("POLL_INTERVAL_S = 1.0  #", "POLL_INTERVAL_S = 0.25  #"),
        ("LOST_DELIVERIES = 0.2  #", "LOST_DELIVERIES = 0.5  #"),
        ("\nFAILED_ATTEMPTS = 2", "\nFAILED_ATTEMPTS = 3"),
    ],
    "04-pull-vs-push.ipynb": [
        ("RECORDS = 50  #", "RECORDS = 500  #"),
        ("RATE_PER_S = 1 / 600  #", "RATE_PER_S = 1 / 60  #"),
        ("INTERVALS_S = [5, 10, 30, 60, 120, 300, 1200, 2400]",
         "INTERVALS_S = [1, 5, 10, 30, 60, 120, 300, 1200, 2400, 3600]"),
        ("RECONCILE_S = 600  #", "RECONCILE_S = 60  #"),
        ("\nFEED_INTERVAL_S = 60", "\nFEED_INTERVAL_S = 10"),
        ("SCALE_INTERVAL_S = 60  #", "SCALE_INTERVAL_S = 10  #"),
    ],
    "05-reliability.ipynb": [
        ("np.geomspace(60, 14 * 86400, 10)", "np.geomspace(60, 14 * 86400, 30)"),
        ("RETENTIONS_S = [300, 7 * 86400]", "RETENTIONS_S = [300, 3600, 86400, 7 * 86400]"),
        ("ARRIVALS = (3, 2)", "ARRIVALS = (3, 1, 2)"),
    ],
    "06-smarter-polling.ipynb": [
        ("RECORDS = 100  #", "RECORDS = 1000  #"),
        ("RATE_PER_S = 1 / 600  #", "RATE_PER_S = 1 / 60  #"),
        ("INTERVAL_S = 60  #", "INTERVAL_S = 10  #"),
        ("RATES_PER_S = (1 / 30, 1 / 3600)", "RATES_PER_S = (1 / 60, 1 / 600)"),
    ],
}  # fmt: skip

#: A cell runs the simulation if it calls one of these, and is live if it starts real servers.
SIMULATED = ("simulate(", "sweep(", "scan(", "interval_explorer", "poll_timeline(", "delivered_share(",
             "inbox_memory(", "rate_limit_plan(", "freshness_points(", "budget_allocations(", "burst_table(",
             "burst_arrivals(", "herd_table(", "pull_under_burst(")  # fmt: skip
LIVE = ("live_pair(", "webhook_pair(", "run_live(", "serve(", "ProviderService(", "chaos_run(", "ack_comparison(",
        "concurrent_duplicates(", "healthy_beside_dead(", "recovery_demo(", "knee(", "herd_live(",
        "cpu_per_change(")  # fmt: skip


def kind(source: str) -> str:
    if any(marker in source for marker in LIVE):
        return "live"
    return "simulated" if any(marker in source for marker in SIMULATED) else "other"


def report(name: str, total: float, cells, target_s: float) -> list[str]:
    """Print a notebook's time and its slowest cells; return the simulated cells over target."""
    nb = __import__("nbformat").read(NOTEBOOKS / name, as_version=4)
    over = []
    print(f"   {name}: {total:.1f} s in all")
    for index, seconds, first in sorted(cells, key=lambda c: -c[1])[:6]:
        what = kind(nb.cells[index].source)
        flag = ""
        if what == "simulated" and seconds >= target_s:
            flag = f"  OVER {target_s:g} s"
            over.append(f"{name} cell {index}")
        print(f"     {seconds:6.2f} s  cell {index:3d} [{what}] {first[:60]}{flag}")
    simulated = [s for i, s, _ in cells if kind(nb.cells[i].source) == "simulated"]
    print(f"     slowest simulated cell {max(simulated, default=0):.2f} s (target < {target_s:g} s)")
    return over


def slider_seconds(records: int = 200) -> dict[float, float]:
    """01's slider: seconds to redraw (simulate, print, draw, render a PNG) at each interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hooklab import lab

    shown = plt.show
    plt.show = lambda: (plt.gcf().savefig(io.BytesIO(), format="png"), plt.close("all"))
    try:
        out = {}
        for interval in (1, 2, 10, 60, 300):
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    lab.interval_explorer(interval, records=records, rate_per_s=1 / 60)
                best = min(best, time.perf_counter() - started)
            out[interval] = best
        return out
    finally:
        plt.show = shown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="invited values of 01 and 04 only")
    args = parser.parse_args(argv)
    over: list[str] = []
    if not args.quick:
        print("1. defaults (each notebook in a fresh kernel)")
        series_s = 0.0
        for path in series(NOTEBOOKS):
            total, cells = timed_run(path)
            series_s += total
            over += report(path.name, total, cells, 1.0)
        print(f"   the series: {series_s:.1f} s run one after the other (budget under nbval: 90 s)")
    print("2. the largest values the comments invite")
    names = ["01-api-polling.ipynb", "04-pull-vs-push.ipynb"] if args.quick else list(INVITED)
    for name in names:
        total, cells = timed_run(NOTEBOOKS / name, INVITED[name])
        over += report(name, total, cells, 3.0)
    if not args.quick:
        print("3. 01's slider at 200 records, changes once a minute (best of 3; target < 0.3 s)")
        for interval, seconds in slider_seconds().items():
            print(f"     T = {interval:3d} s: {seconds:.3f} s")
    print("simulated cells over target: " + (", ".join(over) if over else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
