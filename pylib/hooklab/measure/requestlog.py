"""The request log: every request a system sends or serves, one row each.

Experiments build their tables and plots from these rows; nothing in a notebook counts requests
by hand. A request between A and B is seen twice, once ``out`` at the sender and once ``in`` at
the receiver, and each system keeps its own log (``observer``), exactly as two real services
would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import astuple, dataclass
from typing import Literal

import pandas as pd

#: Columns of every request log frame, live or simulated.
COLUMNS = (
    "time",
    "observer",
    "direction",
    "sender",
    "receiver",
    "kind",
    "method",
    "path",
    "status",
    "duration_s",
    "bytes",
    "news",
)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as one system saw it.

    ``status`` is ``None`` when no response came back (connection refused, timeout).
    ``bytes`` counts request plus response body. ``news`` says whether the request carried a
    change the receiving side did not know yet (``None`` where that side cannot tell).
    """

    time: float
    observer: str
    direction: Literal["in", "out"]
    sender: str
    receiver: str
    kind: str
    method: str
    path: str
    status: int | None
    duration_s: float
    bytes: int
    news: bool | None


class RequestLog:
    """A thread-safe, append-only list of :class:`RequestRecord` with a DataFrame view."""

    def __init__(self, observer: str) -> None:
        self.observer = observer
        self._rows: list[tuple] = []
        self._lock = threading.Lock()

    def record(
        self,
        *,
        time: float,
        direction: Literal["in", "out"],
        sender: str,
        receiver: str,
        kind: str,
        method: str,
        path: str,
        status: int | None,
        duration_s: float,
        bytes: int,
        news: bool | None = None,
    ) -> RequestRecord:
        row = (
            time,
            self.observer,
            direction,
            sender,
            receiver,
            kind,
            method,
            path,
            status,
            duration_s,
            bytes,
            news,
        )
        with self._lock:
            self._rows.append(row)  # a plain tuple: astuple() deep-copies, a cost on every request
        return RequestRecord(*row)

    def __len__(self) -> int:
        return len(self._rows)

    def totals(self) -> dict[str, int]:
        """``{"requests": n, "bytes": b}``: rows logged so far and their bytes (requests and answers)."""
        with self._lock:
            rows = list(self._rows)
        at = COLUMNS.index("bytes")
        return {"requests": len(rows), "bytes": sum(row[at] for row in rows)}

    def records(self) -> list[RequestRecord]:
        with self._lock:
            rows = list(self._rows)
        return [RequestRecord(*row) for row in rows]

    def to_frame(self) -> pd.DataFrame:
        with self._lock:
            rows = list(self._rows)
        return frame_from_rows(rows)


def frame_from_rows(rows: Iterable[tuple]) -> pd.DataFrame:
    """Build a request-log DataFrame with the standard columns and dtypes."""
    df = pd.DataFrame(list(rows), columns=list(COLUMNS))
    df["status"] = df["status"].astype("Int64")
    df["news"] = df["news"].astype("boolean")
    df["bytes"] = df["bytes"].astype("int64")
    df["time"] = df["time"].astype("float64")
    df["duration_s"] = df["duration_s"].astype("float64")
    return df


def combine(*logs: RequestLog) -> pd.DataFrame:
    """One frame from several systems' logs, sorted by time."""
    rows = [astuple(r) for log in logs for r in log.records()]
    rows.sort(key=lambda r: (r[0], r[1]))
    return frame_from_rows(rows)
