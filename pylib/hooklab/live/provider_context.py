"""What the parts of live System B share: one typed context instead of reaching into each other.

:class:`~hooklab.live.provider_app.ProviderService` builds one :class:`ProviderContext` and hands
it to its parts: the sender (:mod:`hooklab.live.provider_sender`: settlements and webhook
deliveries) and the holds (:mod:`hooklab.live.provider_holds`: long polls and event streams).
Every access to the core goes through ``lock``: the routes run on the server's event loop, tests
and notebooks read from other threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from hooklab.core.clock import Clock
from hooklab.core.provider import PaymentProvider
from hooklab.live.provider_store import SqliteProviderStore
from hooklab.measure.requestlog import RequestLog


@dataclass
class ProviderContext:
    name: str
    core: PaymentProvider
    clock: Clock
    log: RequestLog
    store: SqliteProviderStore | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
