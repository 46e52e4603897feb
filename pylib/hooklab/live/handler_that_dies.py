"""A naive webhook handler killed with SIGKILL where its two writes meet (run as a process by
:func:`hooklab.lab.crash_between.crash_between`)::

    python -m hooklab.live.handler_that_dies DB TRANSACTIONS < event.json

With ``TRANSACTIONS`` 2 it commits "event seen, payment succeeded", dies, and never commits "order
shipped"; with 1 both are in one transaction and it dies inside it, so nothing is committed.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from hooklab.live.store import SqliteStore


def handle_and_die(db: Path, transactions: int, event: dict) -> None:
    """A naive handler for ``event``, killed where the two writes meet."""
    store = SqliteStore(db)
    payment, now = event["data"]["object"], event["created"]

    def die() -> None:  # SIGKILL: no finally, no rollback, no atexit; only what SQLite committed stays
        os.kill(os.getpid(), signal.SIGKILL)

    if transactions == 1:
        with store.transaction():
            store.processed_events.add(event["id"])
            store.payments[payment["id"]] = payment
            die()  # inside the one transaction: nothing above is committed
            store.fulfilments[payment["id"]] = now
    else:
        with store.transaction():
            store.processed_events.add(event["id"])
            store.payments[payment["id"]] = payment
        die()  # between the two: the first is committed, the second never runs
        with store.transaction():
            store.fulfilments[payment["id"]] = now


if __name__ == "__main__":  # pragma: no cover - runs as a process, and is killed
    handle_and_die(Path(sys.argv[1]), int(sys.argv[2]), json.loads(sys.stdin.read()))
