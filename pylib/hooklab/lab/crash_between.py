"""One transaction or two: a handler killed with SIGKILL between recording a payment and shipping it.

A handler that commits "event seen, payment succeeded" and then, in a second transaction, "order
shipped" can die between the two. B got no ``200``, so it sends the event again, and A, which
already remembers the id, answers "duplicate": the order is never shipped. With both writes in one
transaction the crash loses both, and the retry does the whole job. Over a real process and a real
SQLite file (notebook 05, section 3); the handler that is killed is
:mod:`hooklab.live.handler_that_dies`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from hooklab.core.provider import PaymentProvider
from hooklab.core.shop import Shop
from hooklab.lab.hostile import succeeded_event
from hooklab.live.store import SqliteStore


def crash_between(transactions: int, *, seed: int = 5) -> dict:
    """Kill a handler between recording a succeeded payment and shipping it, with ``transactions``
    (1 or 2) commits; then let B's retry of the same event reach A (the real store-backed core).
    What A knows and has shipped, after the crash and after the retry."""
    if transactions not in (1, 2):
        raise ValueError(f"transactions is 1 or 2, got {transactions!r}")
    event = succeeded_event(PaymentProvider(seed=seed, seeded_ids=True), 0.0, settled_at=1.0)
    payment_id = event["data"]["object"]["id"]
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "a.sqlite"
        child = subprocess.run(
            [sys.executable, "-m", "hooklab.live.handler_that_dies", str(db), str(transactions)],
            input=json.dumps(event), text=True, timeout=60, check=False,
        )  # fmt: skip
        if child.returncode != -signal.SIGKILL:
            raise RuntimeError(f"the handler was to be killed with SIGKILL, it ended with {child.returncode}")
        store = SqliteStore(db)
        try:
            shop = Shop(store=store)
            crashed = {
                "A knows it succeeded": payment_id in shop.payments,
                "shipped after the crash": payment_id in shop.fulfilments,
            }
            applied = shop.accept(event, "webhook", 2.0)  # B never got a 200: it sends the event again
            return {
                "transactions": transactions,
                **crashed,
                "B's retry applied": applied,
                "shipped after the retry": payment_id in shop.fulfilments,
            }
        finally:
            store.close()


def one_or_two_transactions() -> pd.DataFrame:
    """:func:`crash_between` with two transactions, then with one: a row each."""
    return pd.DataFrame([crash_between(2), crash_between(1)]).set_index("transactions")
