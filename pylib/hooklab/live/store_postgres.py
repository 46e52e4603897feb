"""A's durable memory in PostgreSQL, for when one process is not enough.

The same tables and the same contract as :class:`~hooklab.live.store.SqliteStore` (the mappings
are shared: :class:`~hooklab.live.store.ShopTables`), on a server several A processes can share:
endpoint processes that store what they receive and worker processes that apply it. SQLite stays
the embedded default (``make lab`` needs no server); ``hooklab consumer --db postgresql://...``
chooses this one. psycopg 3 talks to the server; a commit is durable when PostgreSQL says so
(``synchronous_commit=on``, its default: the commit's WAL record is flushed to disk first).
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading

import psycopg

from hooklab.live.store import NestedTransactions, ShopTables, _Payments, _Table

#: The same tables as SQLite's (hooklab.live.store), in PostgreSQL's words: an identity column
#: instead of AUTOINCREMENT, DOUBLE PRECISION instead of REAL.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS processed_events (id TEXT PRIMARY KEY, at DOUBLE PRECISION);
CREATE TABLE IF NOT EXISTS webhook_secrets (secret TEXT PRIMARY KEY, added INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS inbox (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT UNIQUE NOT NULL,
                                  event TEXT NOT NULL, via TEXT NOT NULL, received_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS fulfilments (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                                        payment_id TEXT NOT NULL, fulfilled_at DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS fulfilments_by_payment ON fulfilments (payment_id);
CREATE INDEX IF NOT EXISTS processed_events_by_time ON processed_events (at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT UNIQUE NOT NULL,
                                         event TEXT NOT NULL, via TEXT NOT NULL, error TEXT NOT NULL,
                                         at DOUBLE PRECISION NOT NULL);
"""
#: Held while the tables are made, so that processes starting together do not race to make them.
_SCHEMA_LOCK = 0x686F6F6B  # "hook"


@functools.lru_cache(maxsize=256)
def _placeholders(sql: str) -> str:
    """The shared SQL's ``?`` as psycopg's ``%s`` (the shared SQL has no other ``?`` or ``%``)."""
    return sql.replace("?", "%s")


class PostgresFile(NestedTransactions):
    """One connection to a PostgreSQL database, shared by one process's threads under a lock;
    :meth:`transaction` makes what runs inside it one atomic step (nested calls join the outer)."""

    def __init__(self, url: str, schema: str) -> None:
        self.url = url
        try:
            self._conn = psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError as err:
            raise ConnectionError(
                f"cannot reach PostgreSQL at {url.split('@')[-1]} ({str(err).strip()}); start the server "
                "or check --db, or leave --db as a file name for SQLite"
            ) from None
        self._lock = threading.RLock()
        self._in_transaction = False
        with self._lock, self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            self._conn.execute(schema)

    def execute(self, sql: str, params: tuple = ()) -> psycopg.Cursor:
        with self._lock:
            return self._conn.execute(_placeholders(sql), params)

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        """One statement for many rows (pipelined by psycopg: one round trip for the group)."""
        if rows:
            with self._lock, self._conn.cursor() as cursor:
                cursor.executemany(_placeholders(sql), rows)

    def _outermost(self) -> contextlib.AbstractContextManager:
        return self._conn.transaction()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _ClaimedInbox(_Table):
    """The inbox, claimed by the workers that share it: the oldest rows no other transaction holds
    (``FOR UPDATE SKIP LOCKED``), locked until this transaction ends, so each is applied once."""

    def claim_oldest(self, limit: int | None) -> list[tuple[str, tuple]]:
        rows = self._store.execute(
            "SELECT seq, id, event, via, received_at FROM inbox ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED",
            (limit,),  # LIMIT NULL: all
        ).fetchall()
        return [(row[1], self._load(row[2:])) for row in rows]


class _LockedPayments(_Payments):
    """Payments read for applying are locked first (a lock per payment id for the transaction, taken
    in id order so two workers never wait on each other in a circle): two workers applying events
    of one payment take turns, so a version never goes backwards and a payment is fulfilled once."""

    def read_many(self, ids) -> dict[str, dict]:
        ordered = sorted(ids)
        # PostgreSQL evaluates a volatile function in the select list after ORDER BY's sort
        self._store.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(id, 0)) FROM unnest(%s::text[]) AS id ORDER BY id",
            (ordered,),
        )
        return super().read_many(ordered)


class PostgresStore(ShopTables, PostgresFile):
    """Payments, processed event ids, the inbox, fulfilments, dead letters, secrets and the
    reconciliation cursor in the PostgreSQL database at ``url`` (``postgresql://...``). Any number
    of processes may open the same database: endpoints store, workers claim and apply."""

    def __init__(self, url: str) -> None:
        super().__init__(url, _SCHEMA)
        self._open_tables()
        self.payments = _LockedPayments(self)
        self.inbox = _ClaimedInbox(
            self, "inbox", "id", ("event", "via", "received_at"),
            lambda v: (json.dumps(v[0]), v[1], v[2]), lambda row: (json.loads(row[0]), row[1], row[2]),
        )  # fmt: skip
