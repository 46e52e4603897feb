"""Live webhook demos: System B pushing to System A over real HTTP, one short cell at a time.

:func:`webhook_pair` serves B and A (webhook mode, registered) for the length of a ``with`` block
(see :mod:`hooklab.lab.pair` for its verbs: take payments, take A down and bring it back, make B send
an event again); the tables the notebook shows are built from the request logs. ``wait_until`` is
re-exported so the notebook needs one import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from itertools import accumulate

import pandas as pd

from hooklab.core.provider import DEFAULT_RETRY_SCHEDULE, SettlementModel
from hooklab.lab import pair
from hooklab.lab.pair import WebhookPair
from hooklab.live.runs import wait_until

__all__ = [
    "DEMO_SETTLEMENT",
    "attempt_times",
    "delivery_attempts",
    "first_attempt_after",
    "wait_until",
    "webhook_pair",
]

#: Payments settle quickly in the demos, and none fail (the outcome is not the point here).
DEMO_SETTLEMENT = SettlementModel(mean_s=0.4, min_s=0.1, failure_share=0.0)


@contextlib.contextmanager
def webhook_pair(
    *,
    seed: int = 0,
    settlement: SettlementModel = DEMO_SETTLEMENT,
    retry_schedule: Sequence[float] = DEFAULT_RETRY_SCHEDULE,
) -> Iterator[WebhookPair]:
    """:func:`hooklab.lab.pair.webhook_pair` with the demos' quick, never-failing settlement."""
    with pair.webhook_pair(seed=seed, settlement=settlement, retry_schedule=retry_schedule) as live:
        yield live


def delivery_attempts(live: WebhookPair) -> pd.DataFrame:
    """B's delivery attempts, one row each: when (s since the first), the answer, the wait before it.

    ``planned_wait_s`` is what B's retry schedule prescribed after the previous failure;
    ``waited_s`` what the log shows.
    """
    log = live.provider.log.to_frame()
    sent = log[(log["kind"] == "webhook") & (log["direction"] == "out")].reset_index(drop=True)
    schedule = live.provider.retry_schedule
    t = sent["time"] - sent["time"].iloc[0] if len(sent) else sent["time"]
    return pd.DataFrame(
        {
            "attempt": range(1, len(sent) + 1),
            "at_s": t.round(3),
            "answer": [("no answer" if pd.isna(s) else str(int(s))) for s in sent["status"]],
            "waited_s": t.diff().round(3),
            "planned_wait_s": [float("nan")] + [schedule[i] for i in range(len(sent) - 1)],
        }
    )


def attempt_times(
    retry_schedule: Sequence[float] = DEFAULT_RETRY_SCHEDULE, attempt_s: float = 0.0
) -> list[float]:
    """Seconds after a change at which B starts each attempt to deliver it, if every one fails.

    B waits after an attempt *ends*: ``attempt_s`` is how long a failed attempt takes (0 when A's
    port refuses the connection at once; ``DELIVERY_TIMEOUT_S`` when A accepts it but answers too
    late), so attempt k + 1 starts ``attempt_s + retry_schedule[k]`` after attempt k.
    """
    return [0.0, *accumulate(attempt_s + wait for wait in retry_schedule)]


def first_attempt_after(
    down_s: float, retry_schedule: Sequence[float] = DEFAULT_RETRY_SCHEDULE
) -> int | None:
    """Which attempt (1 = the first) reaches A if A is down for ``down_s`` s from the change on.

    ``None`` if B gives up first: the event is lost unless A reconciles.
    """
    for number, at in enumerate(attempt_times(retry_schedule), start=1):
        if at >= down_s:
            return number
    return None
