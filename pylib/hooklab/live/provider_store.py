"""System B's durable memory: payments, events, endpoints, settlements to come and the delivery
outbox, in one SQLite file (``hooklab provider --db FILE``).

B's core (:class:`hooklab.core.provider.PaymentProvider`) writes every change through this store
inside one transaction: a payment's new status, its event and the event's deliveries commit
together or not at all (the *transactional outbox*), so a B killed at any moment never has a change
whose event was not planned for delivery. On start the core reads everything back
(:meth:`SqliteProviderStore.load`): unfinished deliveries are sent again, settlements still to come
still come.
"""

from __future__ import annotations

import json
from pathlib import Path

from hooklab.core.delivery import Delivery, Endpoint
from hooklab.live.store import SqliteFile

_SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,
                                   body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS endpoints (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,
                                      body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settlements (payment_id TEXT PRIMARY KEY, due REAL NOT NULL, outcome TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,
                                       state TEXT NOT NULL, body BLOB NOT NULL, row TEXT NOT NULL);
"""


class SqliteProviderStore(SqliteFile):
    """B's state in the SQLite file at ``path``; opening it again gives back everything committed."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, _SCHEMA)

    def _upsert(self, table: str, key: str, body: str) -> None:
        self.execute(f"INSERT INTO {table} (id, body) VALUES (?, ?) "  # noqa: S608 - table is ours
                     "ON CONFLICT(id) DO UPDATE SET body = excluded.body", (key, body))  # fmt: skip

    def save_payment(self, payment: dict) -> None:
        self._upsert("payments", payment["id"], json.dumps(payment))

    def save_event(self, event: dict) -> None:
        self.execute(
            "INSERT OR IGNORE INTO events (id, body) VALUES (?, ?)", (event["id"], json.dumps(event))
        )

    def save_endpoint(self, endpoint: Endpoint) -> None:
        body = {"id": endpoint.id, "url": endpoint.url, "secret": endpoint.secret, "enabled": endpoint.enabled,
                "failing_since": endpoint.failing_since, "disabled_reason": endpoint.disabled_reason}  # fmt: skip
        self._upsert("endpoints", endpoint.id, json.dumps(body))

    def save_delivery(self, delivery: Delivery) -> None:
        row = delivery.to_dict()
        row.update(due_at=delivery.due_at, attempt=delivery.attempt, last_status=delivery.last_status,
                   recovered=delivery.recovered)  # fmt: skip
        self.execute(
            "INSERT INTO deliveries (id, state, body, row) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET state = excluded.state, row = excluded.row",
            (delivery.id, delivery.state.value, delivery.body, json.dumps(row)),
        )

    def remove_endpoint(self, endpoint_id: str) -> None:
        self.execute("DELETE FROM endpoints WHERE id = ?", (endpoint_id,))

    def remove_delivery(self, delivery_id: str) -> None:
        self.execute("DELETE FROM deliveries WHERE id = ?", (delivery_id,))

    def save_settlement(self, payment_id: str, due: float, outcome: str) -> None:
        self.execute("INSERT OR REPLACE INTO settlements (payment_id, due, outcome) VALUES (?, ?, ?)",
                     (payment_id, due, outcome))  # fmt: skip

    def remove_settlement(self, payment_id: str) -> None:
        self.execute("DELETE FROM settlements WHERE payment_id = ?", (payment_id,))

    def load(self) -> dict:
        """Everything committed, in the order it was made."""
        endpoints = []
        for (body,) in self.execute("SELECT body FROM endpoints ORDER BY seq"):
            e = json.loads(body)
            endpoints.append(Endpoint(e["id"], e["url"], e["secret"], e["enabled"], e["failing_since"],
                                      e["disabled_reason"]))  # fmt: skip
        deliveries = []
        for body, row in self.execute("SELECT body, row FROM deliveries ORDER BY seq"):
            d = json.loads(row)
            d["body"] = bytes(body)
            deliveries.append(d)
        return {
            "payments": [json.loads(b) for (b,) in self.execute("SELECT body FROM payments ORDER BY id")],
            "events": [json.loads(b) for (b,) in self.execute("SELECT body FROM events ORDER BY seq")],
            "endpoints": endpoints,
            "settlements": list(
                self.execute("SELECT payment_id, due, outcome FROM settlements ORDER BY due")
            ),
            "deliveries": deliveries,
        }
