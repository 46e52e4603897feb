"""``hooklab worker``: one inbox worker process of a receiver fleet on PostgreSQL.

Endpoint processes (``hooklab consumer --workers 0``) verify, store and answer; any number of
these apply what they stored. Each round claims the oldest inbox rows no other worker holds
(``SELECT ... FOR UPDATE SKIP LOCKED``: :meth:`Shop.apply_pending <hooklab.core.shop.Shop.apply_pending>`
on a :class:`~hooklab.live.store_postgres.PostgresStore`), does their work, applies them and
deletes them from the inbox in one transaction. A worker killed mid-claim holds nothing: its
transaction is rolled back with its connection, and the rows are claimable again at once.
"""

from __future__ import annotations

import time

from hooklab.live.shop_app import ShopService

#: Events claimed in one transaction when each needs no work of its own.
GROUP = 256


def run_worker(service: ShopService, *, work_s: float = 0.0, idle_s: float = 0.1) -> int:
    """Claim and apply inbox events until ``service.ctx.stop`` is set; how many were applied.
    ``work_s``: seconds of work per event (a handler's I/O), done while holding the claim, one
    event a transaction; ``idle_s``: how long to wait when nothing is waiting."""
    ctx, applied = service.ctx, 0
    limit = 1 if work_s else GROUP

    def work(pending: list) -> None:
        if work_s:
            time.sleep(work_s * len(pending))  # the handler's I/O (a carrier's API, an e-mail)

    while not ctx.stop.is_set():
        try:
            with ctx.lock:
                done = ctx.core.apply_pending(ctx.clock.now(), limit=limit, before_apply=work)
        except Exception:  # noqa: BLE001 - a bug in the work: nothing of the group was kept
            done = _one_at_a_time(service)
        applied += done
        if done == 0:
            ctx.stop.wait(idle_s)
    return applied


def _one_at_a_time(service: ShopService) -> int:
    """After a group failed: the oldest event alone, which the inbox worker applies or, if its work
    fails, sets aside in the dead letters (and logs); 1 if it was applied."""
    ctx = service.ctx
    with ctx.lock:
        oldest = next(iter(ctx.core.inbox.items()), None)  # a page of the inbox, not all of it
    if oldest is None:
        return 0
    event_id, (event, _via, _at) = oldest
    return int(bool(service.worker.work_on(event_id, event)))
