"""How applying A's inbox scales with worker processes on PostgreSQL (the fleet issue: 4 workers at
least 1.5x one worker when each event's work is I/O).

A throwaway PostgreSQL server (initdb in a temporary folder); for 1, 2 and 4 ``hooklab worker``
processes, ``--events`` events put in A's inbox, then the workers started and timed until it is
empty; each event takes ``--work`` milliseconds of simulated I/O while its claim is held.

    python benchmarks/bench_fleet.py                  # 600 events, 10 ms each
    python benchmarks/bench_fleet.py --work 0         # CPU-bound: the database is the limit
"""

from __future__ import annotations

import argparse
import sys

from hooklab.lab.fleet import fleet_scaling
from hooklab.live.postgres_server import INSTALL_HINT, find_initdb

TARGET_SPEED_UP = 1.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=600, help="events in the inbox (default 600)")
    parser.add_argument("--work", type=float, default=10.0, help="milliseconds of I/O per event (default 10)")
    args = parser.parse_args(argv)
    if find_initdb() is None:
        print(f"skipped: needs PostgreSQL ({INSTALL_HINT})")
        return 0
    table = fleet_scaling((1, 2, 4), events=args.events, work_s=args.work / 1000)
    print(table.to_string())
    speed_up = table.loc[4, "speed_up"]
    print(f"\n4 workers: {speed_up:.2f}x one worker with {args.work:g} ms of work an event "
          f"(target >= {TARGET_SPEED_UP}x when I/O-bound): {speed_up >= TARGET_SPEED_UP}; "
          f"fulfilled twice: {int(table.fulfilled_twice.sum())}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
