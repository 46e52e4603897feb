"""A's group commit: one writer thread stores the verified webhook events, many at a time.

The endpoint verifies each request on the event loop (size, signature, JSON: no I/O) and hands the
event here; the writer takes every event that arrived while its last commit ran and stores them in
one transaction (:meth:`Shop.accept_webhooks <hooklab.core.shop.Shop.accept_webhooks>`), then
answers each request. So a ``200`` from A means the event is committed, the commits are few however
many requests come at once (one fsync each with ``synchronous=FULL``), and the event loop never
waits on SQLite. If a commit fails, every request in it gets a ``503`` and nothing of it is stored.
"""

from __future__ import annotations

import asyncio
import queue
import threading

from hooklab.core.errors import ApiError
from hooklab.core.shop import WebhookReply
from hooklab.live.shop_context import ShopContext

#: At most this many events in one commit (a bound on how long one commit can hold the lock).
MAX_GROUP = 512

_STOP = object()


class GroupCommitter:
    """``await committer.submit(event, now)``: the event's reply, once it is committed."""

    def __init__(self, ctx: ShopContext, *, defer: bool | None = None, max_group: int = MAX_GROUP) -> None:
        self.ctx, self.defer, self.max_group = ctx, defer, max_group
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # handed over and committed so far: each written by one thread only (the loop, the writer),
        # so neither needs a lock, and ``waiting`` is their difference
        self.submitted = self.committed = 0
        self.commits = 0  # how many commits stored them (a benchmark reads events per commit)
        self.deferred = 0  # events stored in the inbox so far, for the worker to apply

    @property
    def waiting(self) -> int:
        """Events handed over and not yet committed (read for back-pressure)."""
        return self.submitted - self.committed

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hooklab-group-commit", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Commit what was handed over, then end the writer."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout=30)
            self._thread = None

    async def submit(self, event: dict, now: float) -> WebhookReply:
        if self._thread is None:  # not serving (a test calling the app without its lifespan)
            self.start()
        loop = asyncio.get_running_loop()
        answer = loop.create_future()
        self.submitted += 1
        self._queue.put((event, now, loop, answer))
        return await answer

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            group = [first]
            while len(group) < self.max_group:  # everything that came while the last commit ran
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stopping = True
                    break
                group.append(more)
            self._commit(group)

    def _commit(self, group: list) -> None:
        try:
            with self.ctx.lock:
                replies = self.ctx.core.accept_webhooks(
                    [(event, now) for event, now, _, _ in group], defer=self.defer
                )
            self.commits += 1
        except Exception as err:  # noqa: BLE001 - a failed commit stored nothing; each sender may try again
            failure = ApiError(503, "not_stored", f"A could not store the event ({type(err).__name__}); "
                               "nothing was kept: send it again later")  # fmt: skip
            replies = [WebhookReply(503, failure.to_dict(), None)] * len(group)
        self.committed += len(group)
        kept = sum(r.status == 200 and r.news is None and not r.body["duplicate"] for r in replies)
        self.deferred += kept
        if kept:
            self.ctx.inbox_wake.set()  # deferred events wait in the inbox: wake the worker
        by_loop: dict[asyncio.AbstractEventLoop, list] = {}
        for (_, _, loop, answer), reply in zip(group, replies, strict=True):
            by_loop.setdefault(loop, []).append((answer, reply))
        for loop, answers in by_loop.items():  # one wake-up of each loop for the whole group
            loop.call_soon_threadsafe(_settle, answers)


def _settle(answers: list[tuple[asyncio.Future, WebhookReply]]) -> None:
    for answer, reply in answers:
        if not answer.done():  # the request may have been cancelled (the client went away)
            answer.set_result(reply)
