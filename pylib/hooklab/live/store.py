"""System A's durable memory: what it knows and which events it processed, in one SQLite file.

A webhook receiver that forgets on a crash is a receiver that double-processes (its list of
processed event ids is gone) or cannot verify (its signing secret is gone). :class:`SqliteStore`
keeps payments, processed event ids and signing secrets in a real SQLite database, and
:meth:`SqliteStore.transaction` makes "mark the event processed" and "apply its payment" one atomic
step. The core (:class:`hooklab.core.shop.Shop`) sees plain mapping and set interfaces, so the
simulation keeps using fast in-memory dicts.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, MutableMapping, MutableSet
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS processed_events (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS webhook_secrets (secret TEXT PRIMARY KEY, added INTEGER NOT NULL);
"""


class _Payments(MutableMapping):
    """``{payment_id: payment_dict}`` backed by the ``payments`` table."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def __getitem__(self, payment_id: str) -> dict:
        row = self._store.execute("SELECT body FROM payments WHERE id = ?", (payment_id,)).fetchone()
        if row is None:
            raise KeyError(payment_id)
        return json.loads(row[0])

    def __setitem__(self, payment_id: str, payment: dict) -> None:
        self._store.execute(
            "INSERT INTO payments (id, body) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body",
            (payment_id, json.dumps(payment, sort_keys=True)),
        )

    def __delitem__(self, payment_id: str) -> None:
        if self._store.execute("DELETE FROM payments WHERE id = ?", (payment_id,)).rowcount == 0:
            raise KeyError(payment_id)

    def __iter__(self) -> Iterator[str]:
        return iter([row[0] for row in self._store.execute("SELECT id FROM payments ORDER BY id")])

    def __len__(self) -> int:
        return self._store.execute("SELECT COUNT(*) FROM payments").fetchone()[0]


class _EventIds(MutableSet):
    """The set of processed event ids, backed by the ``processed_events`` table."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def __contains__(self, event_id: object) -> bool:
        return (
            self._store.execute("SELECT 1 FROM processed_events WHERE id = ?", (event_id,)).fetchone()
            is not None
        )

    def add(self, event_id: str) -> None:
        self._store.execute("INSERT OR IGNORE INTO processed_events (id) VALUES (?)", (event_id,))

    def discard(self, event_id: str) -> None:
        self._store.execute("DELETE FROM processed_events WHERE id = ?", (event_id,))

    def __iter__(self) -> Iterator[str]:
        return iter([row[0] for row in self._store.execute("SELECT id FROM processed_events ORDER BY id")])

    def __len__(self) -> int:
        return self._store.execute("SELECT COUNT(*) FROM processed_events").fetchone()[0]


class SqliteStore:
    """Payments, processed event ids and webhook secrets in the SQLite file at ``path``.

    Opening the same file again (after a crash, a deploy) gives back everything committed. One
    connection, shared by the threads of one :class:`~hooklab.live.shop_app.ShopService` under a lock.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # the file holds A's signing secret: only its owner may read it (SQLite gives the -wal
        # and -shm files it makes beside it the same mode)
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        os.chmod(self.path, 0o600)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._in_transaction = False
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            # NORMAL in WAL mode: a commit survives the process crashing (what the demos show); only
            # an OS crash or power cut may lose the last commits. FULL would fsync every write.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
        self.payments: MutableMapping[str, dict] = _Payments(self)
        self.processed_events: MutableSet[str] = _EventIds(self)

    def execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all (nested calls join the outer one)."""
        with self._lock:
            if self._in_transaction:
                yield
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._in_transaction = True
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._in_transaction = False

    def webhook_secrets(self) -> list[str]:
        """Trusted signing secrets, oldest first."""
        return [row[0] for row in self.execute("SELECT secret FROM webhook_secrets ORDER BY added, secret")]

    def add_webhook_secret(self, secret: str) -> None:
        with self._lock:
            added = self._conn.execute("SELECT COALESCE(MAX(added), 0) + 1 FROM webhook_secrets").fetchone()[
                0
            ]
            self._conn.execute(
                "INSERT OR IGNORE INTO webhook_secrets (secret, added) VALUES (?, ?)", (secret, added)
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
