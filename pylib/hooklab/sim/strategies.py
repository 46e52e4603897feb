"""Strategies: how System A learns of changes in System B.

A strategy is small: :meth:`Strategy.start` (set up, then call ``ready()``), :meth:`Strategy.watch`
(A now knows a record; called when B's answer to the create arrives), and two numbers the engine
needs to place the measured window (:meth:`Strategy.warmup_s`, :meth:`Strategy.horizon_s`). It
acts through the engine (``sim.at`` for timers, ``sim.request``/``sim.poll`` for requests to B,
``sim.register_webhook``) and through A's core (``sim.shop``). Webhook deliveries themselves are
B's doing and run in the engine whenever B has an endpoint registered.

More strategies fit the same shape without touching the engine: a changes feed
(``sim.request("poll", "GET", "/events", serve=lambda after: provider.list_events(after), ...)``
on a timer), conditional requests (a ``serve`` that answers 304 when the version is unchanged),
long polling (a ``serve`` that holds the answer until a change or a timeout via ``sim.at``).
Introduced in notebooks/01-api-polling.ipynb (:class:`Poll`) and notebooks/04-pull-vs-push.ipynb.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from hooklab.provider import FINAL_STATUSES
from hooklab.shop import PollSchedule
from hooklab.sim.engine import ROW_POLL, Sim


class Strategy:
    """Base class: subclasses override what they need. ``mode`` picks the summary's requests."""

    mode = "poll"

    def start(self, sim: Sim, ready: Callable[[], None]) -> None:
        """Set up at time 0 (e.g. register a webhook endpoint), then call ``ready()``."""
        self.sim = sim
        ready()

    def watch(self, payment_id: str) -> None:
        """A created ``payment_id`` and now cares about it."""

    def warmup_s(self) -> float:
        """How long to run before measuring, so that the measured window is in steady state."""
        return 0.0

    def horizon_s(self, sim: Sim) -> float:
        """How long after a change A may need to learn it (the run drains this long)."""
        return 0.0

    def describe(self) -> dict:
        return {"mode": self.mode}


class Poll(Strategy):
    """A polls each record every ``interval_s`` seconds, from when it created it (``GET
    /payments/{id}``), through :class:`~hooklab.shop.PollSchedule` and ``Shop.apply``, exactly as
    the live poller does. With ``until_final`` it stops polling a payment once it is final;
    otherwise it polls for as long as the run lasts. The next poll of a record is planned when
    the answer to the last is back (one request per record in flight, like the live poller).
    Introduced in notebooks/01-api-polling.ipynb.
    """

    mode = "poll"

    def __init__(self, interval_s: float, *, until_final: bool = False) -> None:
        self.schedule = PollSchedule(interval_s)
        self.interval_s = self.schedule.interval_s
        self.until_final = until_final
        self._armed = math.inf

    def start(self, sim: Sim, ready: Callable[[], None]) -> None:
        self.sim = sim
        ready()

    def watch(self, payment_id: str) -> None:
        self.schedule.add(payment_id, self.sim.clock.t)
        self._arm()

    def _arm(self) -> None:
        t = self.schedule.next_at()
        if t is not None and t < self._armed:
            self._armed = t
            # overdue (an answer took longer than the interval): poll at once, as the live poller does
            self.sim.at(max(t, self.sim.clock.t), self._wake)

    # One poll is three steps, each a callback at its own time: A sends (_wake), B answers from
    # its core (_served), A applies the answer (_answered). Written out here rather than through
    # Sim.request because polls are nearly all the events of a polling run.
    def _wake(self, _: object) -> tuple | None:
        self._armed = math.inf
        sim = self.sim
        now = sim.clock.t
        due = self.schedule.due(now)
        served, delay = self._served, sim.delay
        for payment_id in due[:-1]:
            sim.at(now + delay(), served, (payment_id, now))
        self._arm()
        if due:  # the last poll goes out as this callback's follow-up (see Sim.run)
            return now + delay(), served, (due[-1], now)
        return None

    def _served(self, req: tuple[str, float]) -> tuple:
        sim = self.sim
        payment = sim.provider.get_payment(req[0])
        return sim.clock.t + sim.delay(), self._answered, (req, payment, sim.payment_size(payment))

    def _answered(self, args: tuple) -> None:
        (payment_id, sent), payment, size = args
        sim = self.sim
        now = sim.clock.t
        news = sim.shop.apply(payment, "poll", now)
        done = self.until_final and payment["status"] in FINAL_STATUSES
        self.schedule.polled(payment_id, sent, done=done)
        if not done and sent + self.interval_s < self._armed:  # else the wake-up already set does
            self._arm()
        sim.rows.append((sent, ROW_POLL, sim.payment_path(payment_id), 200, now - sent, size, news, 0))
        return None

    def warmup_s(self) -> float:
        return self.interval_s

    def horizon_s(self, sim: Sim) -> float:
        return self.interval_s + 4 * sim.network.delay.high_s

    def describe(self) -> dict:
        return {"mode": self.mode, "interval_s": self.interval_s}


class Webhook(Strategy):
    """A registers a webhook endpoint with B and waits; B's core delivers every change, signed,
    and retries failed attempts on its schedule; A's core verifies and de-duplicates them.
    Introduced in notebooks/02-webhooks.ipynb and notebooks/04-pull-vs-push.ipynb.
    """

    mode = "webhook"

    def start(self, sim: Sim, ready: Callable[[], None]) -> None:
        self.sim = sim
        sim.register_webhook(then=lambda endpoint: ready())

    def horizon_s(self, sim: Sim) -> float:
        schedule = sim.provider.retry_schedule
        return sum(schedule) + (len(schedule) + 1) * 4 * sim.network.delay.high_s


class Hybrid(Webhook):
    """Webhooks for speed plus slow reconciliation polling (every ``interval_s``) for safety:
    a change whose every delivery failed is still learned within one reconciliation interval.
    Introduced in notebooks/04-pull-vs-push.ipynb (and notebooks/05-reliability.ipynb).
    """

    mode = "hybrid"

    def __init__(self, interval_s: float = 600.0) -> None:
        self.poller = Poll(interval_s)
        self.interval_s = self.poller.interval_s

    def start(self, sim: Sim, ready: Callable[[], None]) -> None:
        self.sim = sim
        self.poller.sim = sim
        sim.register_webhook(then=lambda endpoint: ready())

    def watch(self, payment_id: str) -> None:
        self.poller.watch(payment_id)

    def warmup_s(self) -> float:
        return self.poller.warmup_s()

    def horizon_s(self, sim: Sim) -> float:
        return max(super().horizon_s(sim), self.poller.horizon_s(sim))

    def describe(self) -> dict:
        return {"mode": self.mode, "interval_s": self.interval_s}
