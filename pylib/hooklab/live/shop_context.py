"""What the parts of live System A share: one typed context instead of reaching into each other.

:class:`~hooklab.live.shop_app.ShopService` builds one :class:`ShopContext` and hands it to its
parts, each with a thread of its own: the poller (:mod:`hooklab.live.shop_poller`), the inbox
worker (:mod:`hooklab.live.shop_worker`), the reconciler (:mod:`hooklab.live.shop_reconciler`)
and the registration with B (:mod:`hooklab.live.shop_registration`). Every access to the core goes
through ``lock``; every request to B through :meth:`ShopContext.send` on ``client``, whose logging
transport writes it into ``log``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from hooklab.core.shop import PollSchedule, Shop
from hooklab.live.client import send as send_logged
from hooklab.live.clocks import WaitableClock
from hooklab.live.store import SqliteStore
from hooklab.measure.requestlog import RequestLog


@dataclass
class ShopContext:
    """A's state and its ways to B. ``stop`` ends every loop; ``inbox_wake`` tells the worker an
    event is waiting; ``poll_wake`` tells the poller a payment was added."""

    name: str
    mode: str
    provider_url: str
    core: Shop
    store: SqliteStore | None
    clock: WaitableClock
    log: RequestLog
    client: httpx.Client
    schedule: PollSchedule
    auth_headers: Mapping[str, str] = field(default_factory=dict)
    on_event: str = "apply"
    work_s: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock)
    stop: threading.Event = field(default_factory=threading.Event)
    inbox_wake: threading.Event = field(default_factory=threading.Event)
    poll_wake: threading.Event = field(default_factory=threading.Event)
    #: what A's pull loops send through (``None``: the network, through a logging transport of their own)
    pull_transport: httpx.AsyncBaseTransport | None = None

    def send(self, kind: str, method: str, url: str, **options) -> httpx.Response | None:
        """One request to B, logged as A's ``out`` row of ``kind``; ``None`` if B did not answer."""
        return send_logged(self.client, kind, method, url, **options)

    def accept_page(self, events: list[dict], via: str) -> int:
        """Put events A read from B into its inbox (the cursor moves with them); how many were new."""
        with self.lock:
            new = self.core.accept_page(events, via, self.clock.now())
        self.inbox_wake.set()
        return new
