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
from collections.abc import ItemsView, Iterable, Iterator, MutableMapping, MutableSet, Sequence
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS processed_events (id TEXT PRIMARY KEY, at REAL);
CREATE TABLE IF NOT EXISTS webhook_secrets (secret TEXT PRIMARY KEY, added INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,
                                  event TEXT NOT NULL, via TEXT NOT NULL, received_at REAL NOT NULL);
-- no UNIQUE on payment_id: exactly once is the code's promise, and GET /fulfilments shows it kept
CREATE TABLE IF NOT EXISTS fulfilments (seq INTEGER PRIMARY KEY AUTOINCREMENT, payment_id TEXT NOT NULL,
                                        fulfilled_at REAL NOT NULL);
-- "is this payment fulfilled?" is asked for every event applied: without an index each asks by
-- reading every fulfilment, and the endpoint slows as the shop grows
CREATE INDEX IF NOT EXISTS fulfilments_by_payment ON fulfilments (payment_id);
-- forgetting old event ids once a second reads only the old ones
CREATE INDEX IF NOT EXISTS processed_events_by_time ON processed_events (at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,
                                         event TEXT NOT NULL, via TEXT NOT NULL, error TEXT NOT NULL,
                                         at REAL NOT NULL);
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

    _SET = "INSERT INTO payments (id, body) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body"

    def __setitem__(self, payment_id: str, payment: dict) -> None:
        self._store.execute(self._SET, (payment_id, json.dumps(payment, sort_keys=True)))

    def update(self, other=(), /, **kwargs) -> None:
        """Write many payments in one statement."""
        self._store.executemany(
            self._SET, [(k, json.dumps(v, sort_keys=True)) for k, v in dict(other, **kwargs).items()]
        )

    def read_many(self, ids: Iterable[str]) -> dict[str, dict]:
        """Those of ``ids`` A knows, read in one statement."""
        return {
            k: json.loads(body)
            for k, body in self._store.rows_in("SELECT id, body FROM payments WHERE id IN ({})", ids)
        }

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
        self._store.execute(
            "INSERT INTO processed_events (id) VALUES (?) ON CONFLICT DO NOTHING", (event_id,)
        )

    def among(self, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` that were processed, asked in one statement."""
        return {
            row[0] for row in self._store.rows_in("SELECT id FROM processed_events WHERE id IN ({})", ids)
        }

    def discard(self, event_id: str) -> None:
        self._store.execute("DELETE FROM processed_events WHERE id = ?", (event_id,))

    def __iter__(self) -> Iterator[str]:
        return iter([row[0] for row in self._store.execute("SELECT id FROM processed_events ORDER BY id")])

    def __len__(self) -> int:
        return self._store.execute("SELECT COUNT(*) FROM processed_events").fetchone()[0]


class _Table(MutableMapping):
    """``{key: value}`` on one table's ``key`` and ``value`` columns (values through ``dump``/``load``),
    iterated in insertion order (``seq``) or, without ``seq``, by key.

    Iteration reads a page at a time, so taking the oldest few of a large inbox reads only those
    (reading every key first made draining a backlog of N events take time growing as N squared).
    """

    def __init__(self, store: SqliteFile, table: str, key: str, columns: tuple[str, ...], dump, load) -> None:
        self._store, self._table, self._key, self._columns = store, table, key, columns
        self._dump, self._load = dump, load
        order, self._first = ("seq", -1) if table != "meta" else (key, "")
        cols = ", ".join(columns)
        # the table and column names are ours, never a caller's
        self._get = f"SELECT {cols} FROM {table} WHERE {key} = ?"  # noqa: S608
        self._set = (f"INSERT INTO {table} ({key}, {cols}) VALUES (?{', ?' * len(columns)}) "  # noqa: S608
                     f"ON CONFLICT({key}) DO UPDATE SET "
                     + ", ".join(f"{c} = excluded.{c}" for c in columns))  # fmt: skip
        # keyset pages: rows deleted or added between two pages never make one be skipped or repeated
        self._delete = f"DELETE FROM {table} WHERE {key} = ?"  # noqa: S608
        self._page = f"SELECT {order}, {key}, {cols} FROM {table} WHERE {order} > ? ORDER BY {order} LIMIT ?"  # noqa: S608

    def _rows(self) -> Iterator[tuple]:
        after, page = self._first, _FIRST_PAGE
        while True:
            rows = self._store.execute(self._page, (after, page)).fetchall()
            yield from rows
            if len(rows) < page:
                return
            after, page = rows[-1][0], min(2 * page, _PAGE)  # a few first; more if more are wanted

    def __getitem__(self, k: str):
        row = self._store.execute(self._get, (k,)).fetchone()
        if row is None:
            raise KeyError(k)
        return self._load(row)

    def __setitem__(self, k: str, value) -> None:
        self._store.execute(self._set, (k, *self._dump(value)))

    def update(self, other=(), /, **kwargs) -> None:
        """Write many rows in one statement (in order: the inbox keeps arrival order)."""
        self._store.executemany(self._set, [(k, *self._dump(v)) for k, v in dict(other, **kwargs).items()])

    def __delitem__(self, k: str) -> None:
        if self._store.execute(self._delete, (k,)).rowcount == 0:
            raise KeyError(k)

    def remove_many(self, keys: Sequence[str]) -> None:
        """Delete many rows in one statement."""
        self._store.executemany(self._delete, [(k,) for k in keys])

    def __iter__(self) -> Iterator[str]:
        return (row[1] for row in self._rows())

    def items(self) -> ItemsView:
        return _TableItems(self)

    def __len__(self) -> int:
        return self._store.execute(f"SELECT COUNT(*) FROM {self._table}").fetchone()[0]  # noqa: S608


class _TableItems(ItemsView):
    """``(key, value)`` pairs read with their rows, a page at a time (not one query per key)."""

    def __iter__(self) -> Iterator[tuple]:
        table = self._mapping
        return ((row[1], table._load(row[2:])) for row in table._rows())


#: Rows read at a time when a table is iterated: the first page, then twice as many each time, up
#: to the last figure (taking the oldest few reads few; reading them all takes few statements).
_FIRST_PAGE, _PAGE = 16, 512
#: Keys in one ``IN (...)`` (SQLite allows 32,766 parameters a statement since 3.32; older, 999).
_IN_CHUNK = 500


class _Fulfilments(MutableMapping):
    """``{payment_id: fulfilled_at}`` over the ``fulfilments`` log: a second row for one payment
    (which A must never write) shows up in :meth:`rows` and in ``GET /fulfilments``."""

    def __init__(self, store: SqliteFile) -> None:
        self._store = store

    def rows(self) -> list[tuple[str, float]]:
        return list(self._store.execute("SELECT payment_id, fulfilled_at FROM fulfilments ORDER BY seq"))

    def __getitem__(self, payment_id: str) -> float:
        row = self._store.execute("SELECT MIN(fulfilled_at) FROM fulfilments WHERE payment_id = ?",
                                  (payment_id,)).fetchone()  # fmt: skip
        if row[0] is None:
            raise KeyError(payment_id)
        return row[0]

    _ADD = "INSERT INTO fulfilments (payment_id, fulfilled_at) VALUES (?, ?)"

    def __setitem__(self, payment_id: str, at: float) -> None:
        self._store.execute(self._ADD, (payment_id, at))

    def update(self, other=(), /, **kwargs) -> None:
        """Record many fulfilments in one statement."""
        self._store.executemany(self._ADD, list(dict(other, **kwargs).items()))

    def read_many(self, ids: Iterable[str]) -> dict[str, float]:
        """``{payment_id: fulfilled_at}`` for those of ``ids`` fulfilled, asked in one statement."""
        return dict(self._store.rows_in(
            "SELECT payment_id, MIN(fulfilled_at) FROM fulfilments WHERE payment_id IN ({}) GROUP BY payment_id", ids
        ))  # fmt: skip

    def __delitem__(self, payment_id: str) -> None:  # pragma: no cover - a shipped order stays shipped
        raise TypeError("a fulfilment cannot be undone")

    def __iter__(self) -> Iterator[str]:
        return iter(
            [
                r[0]
                for r in self._store.execute(
                    "SELECT payment_id FROM fulfilments GROUP BY payment_id ORDER BY MIN(seq)"
                )
            ]  # fmt: skip
        )

    def __len__(self) -> int:
        return self._store.execute("SELECT COUNT(DISTINCT payment_id) FROM fulfilments").fetchone()[0]


#: SQLite's ``synchronous`` settings a store can run with (https://www.sqlite.org/pragma.html#pragma_synchronous).
SYNCHRONOUS = ("full", "normal")


class NestedTransactions:
    """:meth:`transaction` for a connection shared by threads under ``_lock``: the outermost call
    opens the database's transaction (``_outermost``), calls inside it join it."""

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all (nested calls join the outer one)."""
        with self._lock:
            if self._in_transaction:
                yield
                return
            self._in_transaction = True
            try:
                with self._outermost():
                    yield
            finally:
                self._in_transaction = False


class SqliteFile(NestedTransactions):
    """One SQLite file, made only its owner's, with ``schema`` applied, shared by threads under a lock.

    :meth:`transaction` makes what runs inside it one atomic step. A's store (below) and B's
    (:mod:`hooklab.live.provider_store`) are both this.
    """

    def __init__(self, path: str | Path, schema: str, *, synchronous: str = "normal") -> None:
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS}, got {synchronous!r}")
        self.path = Path(path)
        # the file may hold a signing secret: only its owner may read it (SQLite gives the -wal
        # and -shm files it makes beside it the same mode)
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        os.chmod(self.path, 0o600)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._in_transaction = False
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            # WAL mode: with NORMAL a commit survives the process crashing, but an OS crash or power
            # cut may lose the last commits; FULL syncs the log at every commit, so it survives both
            self._conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self._conn.executescript(schema)

    def execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        """One statement for many rows (one call into SQLite for a whole group, not one per row)."""
        if rows:
            with self._lock:
                self._conn.executemany(sql, rows)

    @contextlib.contextmanager
    def _outermost(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class ShopTables:
    """A's tables as the core's mappings, on any store with ``execute``, ``executemany``,
    ``transaction`` and ``?`` placeholders: :class:`SqliteStore` here, and
    :class:`~hooklab.live.store_postgres.PostgresStore` (the same SQL, the same contract)."""

    def _open_tables(self) -> None:
        self.payments: MutableMapping[str, dict] = _Payments(self)
        self.processed_events: MutableSet[str] = _EventIds(self)
        self.fulfilments = _Fulfilments(self)
        self.inbox: MutableMapping[str, tuple[dict, str, float]] = _Table(
            self, "inbox", "id", ("event", "via", "received_at"),
            lambda v: (json.dumps(v[0]), v[1], v[2]), lambda row: (json.loads(row[0]), row[1], row[2]),
        )  # fmt: skip
        self.dead_letters: MutableMapping[str, tuple[dict, str, str, float]] = _Table(
            self, "dead_letters", "id", ("event", "via", "error", "at"),
            lambda v: (json.dumps(v[0]), v[1], v[2], v[3]), lambda row: (json.loads(row[0]), *row[1:]),
        )  # fmt: skip
        self.meta: MutableMapping[str, str] = _Table(self, "meta", "key", ("value",), lambda v: (v,),
                                                     lambda row: row[0])  # fmt: skip

    def rows_in(self, sql: str, keys: Iterable[str]) -> list[tuple]:
        """The rows of ``sql`` whose ``IN ({})`` holds ``keys``, at most :data:`_IN_CHUNK` keys a statement."""
        keys = list(keys)
        rows: list[tuple] = []
        for at in range(0, len(keys), _IN_CHUNK):
            chunk = keys[at : at + _IN_CHUNK]
            rows += self.execute(sql.format(", ".join("?" * len(chunk))), tuple(chunk)).fetchall()
        return rows

    def remember_events(self, accepted: Sequence[tuple[str, float]]) -> None:
        """Add processed event ids with when each was first accepted, in one statement."""
        self.executemany(
            "INSERT INTO processed_events (id, at) VALUES (?, ?) "
            "ON CONFLICT(id) DO UPDATE SET at = excluded.at WHERE processed_events.at IS NULL",
            list(accepted),
        )

    def forget_events_before(self, cutoff: float) -> int:
        """Forget processed event ids accepted before ``cutoff`` (none still waiting in the inbox)."""
        return self.execute(
            "DELETE FROM processed_events WHERE at < ? AND id NOT IN (SELECT id FROM inbox)", (cutoff,)
        ).rowcount

    def webhook_secrets(self) -> list[str]:
        """Trusted signing secrets, oldest first."""
        return [row[0] for row in self.execute("SELECT secret FROM webhook_secrets ORDER BY added, secret")]

    def add_webhook_secret(self, secret: str) -> None:
        with self.transaction():
            added = self.execute("SELECT COALESCE(MAX(added), 0) + 1 FROM webhook_secrets").fetchone()[0]
            self.execute(
                "INSERT INTO webhook_secrets (secret, added) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (secret, added),
            )


class SqliteStore(ShopTables, SqliteFile):
    """Payments, processed event ids and webhook secrets in the SQLite file at ``path``.

    Opening the same file again (after a crash, a deploy) gives back everything committed. One
    connection, shared by the threads of one :class:`~hooklab.live.shop_app.ShopService` under a lock.
    """

    def __init__(self, path: str | Path, *, synchronous: str = "full") -> None:
        """``synchronous``: ``"full"`` (the default: a commit survives a power cut, so a 200 from A
        means the event is on disk) or ``"normal"`` (survives A's crash, not the machine's)."""
        super().__init__(path, _SCHEMA, synchronous=synchronous)
        self._open_tables()


def is_postgres(db: str | Path) -> bool:
    """Whether ``db`` names a PostgreSQL database (a ``postgresql://`` URL), not an SQLite file."""
    return str(db).startswith(("postgresql://", "postgres://"))


def open_store(db: str | Path, *, synchronous: str = "full") -> ShopTables:
    """A's store at ``db``: an SQLite file, or a PostgreSQL database for a ``postgresql://`` URL
    (several A processes may share one; SQLite stays the embedded default, and needs no server)."""
    if is_postgres(db):
        from hooklab.live.store_postgres import PostgresStore

        return PostgresStore(str(db))
    return SqliteStore(db, synchronous=synchronous)
