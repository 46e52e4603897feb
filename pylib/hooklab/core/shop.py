"""System A, the shop, as a sans-I/O core: what it knows about payments and how it learns.

Two ways to learn that a payment settled:

- pull: :class:`PollSchedule` says which payments to ``GET`` when; :meth:`Shop.apply` takes
  each answer and says whether it was news;
- push: :meth:`Shop.receive_webhook` takes a raw webhook request (bytes and headers) and returns
  the reply, after checking the signature, the size, the JSON and duplicates. The event goes to
  the *inbox* (its id is remembered for ``retention_s``); with ``defer`` it waits there for a
  worker (:meth:`Shop.pending_events`, :meth:`Shop.apply_event`), so A can answer at once;
  without, it is applied before the answer.

Whatever way a payment is learned to have succeeded, A *fulfils* it (ships the order) in the same
step, exactly once: :attr:`Shop.fulfilments`.

No sockets, no threads, no sleeping, no clock: every method that needs the time takes ``now``.
:mod:`hooklab.live.shop_app` and :mod:`hooklab.sim` drive it. What A must remember across a crash
goes to a :class:`ShopStore` (SQLite live, :mod:`hooklab.live.store`); without one, plain dicts.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, MutableMapping, MutableSet, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from hooklab.core.contract import FINAL_STATUSES, MAX_BODY_BYTES, parse_json, validate_event
from hooklab.core.errors import ApiError
from hooklab.core.schemes import IGNORED, scheme, shop_event, signed_in
from hooklab.core.signing import SignatureError


class Observation(NamedTuple):
    """A learned a new version of a payment at ``learned_at`` (via ``poll`` or ``webhook``)."""

    payment_id: str
    version: int
    status: str
    learned_at: float
    via: str


@dataclass(frozen=True)
class WebhookReply:
    """What A answers a webhook request with, plus what the request log should say of it."""

    status: int
    body: dict
    news: bool | None


#: How long A remembers an event id by default: longer than any sender's retry window here (Stripe
#: retries for 3 days, Standard Webhooks' example schedule spans 3.1 days, Svix disables after 5), so a
#: genuine retry always finds its id. A shorter memory lets a late retry be applied twice.
INBOX_RETENTION_S = 7 * 86400.0


class ShopStore(Protocol):
    """Durable memory for A: what :class:`Shop` keeps when it is given a store."""

    payments: MutableMapping[str, dict]
    processed_events: MutableSet[str]
    fulfilments: MutableMapping[str, float]
    inbox: MutableMapping[str, tuple[dict, str, float]]
    dead_letters: MutableMapping[str, tuple[dict, str, str, float]]
    meta: MutableMapping[str, str]

    def webhook_secrets(self) -> list[str]: ...

    def add_webhook_secret(self, secret: str) -> None: ...

    def transaction(self) -> contextlib.AbstractContextManager: ...

    def remember_events(self, accepted: Sequence[tuple[str, float]]) -> None:
        """Add ``(event_id, first accepted at)`` pairs to ``processed_events``."""

    def forget_events_before(self, cutoff: float) -> int: ...


class _MemoryEvents:
    """Event ids with when each was first accepted: the in-memory inbox's memory."""

    def __init__(self, ids: MutableSet[str]) -> None:
        self.ids = ids
        self.at: dict[str, float] = {}

    def remember_events(self, accepted: Sequence[tuple[str, float]]) -> None:
        for event_id, at in accepted:
            self.ids.add(event_id)
            self.at.setdefault(event_id, at)

    def forget_events_before(self, cutoff: float) -> int:
        old = [e for e, t in self.at.items() if t < cutoff]
        for event_id in old:
            del self.at[event_id]
            self.ids.discard(event_id)
        return len(old)


class Shop:
    """A's view of B's payments, the inbox of processed event ids, and what it learned when."""

    def __init__(
        self,
        *,
        webhook_secrets: Sequence[str] = (),
        tolerance_s: int = 300,
        store: ShopStore | None = None,
        defer: bool = False,
        retention_s: float = INBOX_RETENTION_S,
        scheme_name: str = "hooklab",
    ) -> None:
        #: the senders' convention A verifies and reads (:mod:`hooklab.core.schemes`)
        self.scheme = scheme(scheme_name)
        self.store = store
        self.defer = defer
        self.retention_s = retention_s
        # business state: in memory by default (the simulation), or durable in SQLite (live A)
        self.payments: MutableMapping[str, dict] = store.payments if store else {}
        self.processed_events: MutableSet[str] = store.processed_events if store else set()
        self.fulfilments: MutableMapping[str, float] = store.fulfilments if store else {}
        # accepted, not yet applied: {event_id: (event, via, received_at)}, in arrival order
        self.inbox: MutableMapping[str, tuple[dict, str, float]] = store.inbox if store else {}
        #: events whose work failed (a bug in A's handler): {event_id: (event, via, error, when)},
        #: set aside so the inbox moves on, to be fixed and replayed by a person
        self.dead_letters: MutableMapping[str, tuple[dict, str, str, float]] = (
            store.dead_letters if store else {}
        )
        #: small durable values: the reconciliation cursor
        self.meta: MutableMapping[str, str] = store.meta if store else {}
        self._events = store if store else _MemoryEvents(self.processed_events)
        self.webhook_secrets: list[str] = store.webhook_secrets() if store else []
        self._atomic = store.transaction if store else contextlib.nullcontext
        for secret in webhook_secrets:
            self.add_webhook_secret(secret)
        # the experiment's record, not business state: plain tuples, which Python's collector stops
        # tracking (a long-running A keeps one per change; as objects, even named tuples, they made
        # every full collection walk them all: pauses of 20-80 ms under load)
        self._learned: list[tuple] = []
        self.applications: Counter[str] = Counter()  # event id -> times applied (should be 1)
        self.fulfil_count: Counter[str] = Counter()  # payment id -> times fulfilled (should be 1)
        self.tolerance_s = tolerance_s
        self.rejections: list[tuple[float, str]] = []  # (time, reason): what was refused, for the notebooks
        #: the last refusal's error as A answered it (code, message, reason): why, in A's own words
        self.last_refusal: dict | None = None

    # --- knowledge ------------------------------------------------------------------------
    @property
    def observations(self) -> list[Observation]:
        """Every time A learned a newer version of a payment, in order (a new list each time)."""
        return [Observation._make(row) for row in self._learned]

    def apply(self, payment: Mapping, via: str, now: float) -> bool:
        """Take a payment snapshot, seen at ``now``; return ``True`` if it is newer than what A knew (news).

        Older or equal versions are ignored, so late or duplicated snapshots never move A's view
        backwards (ordering: notebooks/02-webhooks.ipynb, section 5.4).
        """
        return self._apply_many([(None, payment, via, now)])[0]

    def _apply_many(self, snapshots: Sequence[tuple[str | None, Mapping, str, float]]) -> list[bool]:
        """Take snapshots ``(event id or None, payment, via, seen at)`` in order, in one transaction:
        whether each was news. A group reads what A knew of its payments once and writes once (a
        store does each in one statement, not one per event), and a payment that succeeded is
        fulfilled together with its new state, once."""
        learned: list[tuple] = []
        news: list[bool] = []
        with self._atomic():  # the payments and their fulfilments together, or neither
            ids = {payment["id"] for _, payment, _, _ in snapshots}
            latest, fulfilled = read_many(self.payments, ids), read_many(self.fulfilments, ids)
            changed: dict[str, dict] = {}
            shipped: dict[str, float] = {}
            for event_id, payment, via, now in snapshots:
                if event_id is not None:
                    self.applications[event_id] += 1
                pid, known = payment["id"], latest.get(payment["id"])
                news.append(known is None or payment["version"] > known["version"])
                if not news[-1]:
                    continue
                latest[pid] = changed[pid] = dict(payment)
                if payment["status"] == "succeeded" and pid not in fulfilled:
                    fulfilled[pid] = shipped[pid] = now
                    self.fulfil_count[pid] += 1
                learned.append((pid, payment["version"], payment["status"], now, via))
            self.payments.update(changed)
            self.fulfilments.update(shipped)
        self._learned += learned
        return news

    # --- the inbox ------------------------------------------------------------------------
    def accept(self, event: dict, via: str, now: float, *, defer: bool | None = None) -> bool:
        """Take a verified event (a webhook, or a page of ``GET /events`` when reconciling): ``False``
        if A has it already (a duplicate); else it is remembered and applied, or with ``defer``
        left in the inbox for :meth:`apply_event`."""
        return self._accept_many([(event, via, now)], defer)[0][0]

    def _accept_many(
        self, events: Sequence[tuple[dict, str, float]], defer: bool | None
    ) -> list[tuple[bool, bool | None]]:
        """Accept events ``(event, via, arrived at)`` in one transaction: for each, whether it was new
        to A (not a duplicate, also of one earlier in the group) and whether A learned something
        from it (``None`` while it waits in the inbox). Remembered and applied (or queued) together,
        or neither: a crash between would lose an event or apply one twice."""
        answers: list[tuple[bool, bool | None]] = [(False, False)] * len(events)
        with self._atomic():
            seen = among(self.processed_events, {event["id"] for event, _, _ in events})
            fresh: list[int] = []  # positions of the new events
            for i, (event, _, _) in enumerate(events):
                if event["id"] not in seen:
                    seen.add(event["id"])
                    fresh.append(i)
            new = [events[i] for i in fresh]
            self._events.remember_events([(event["id"], now) for event, _, now in new])
            if self.defer if defer is None else defer:
                self.inbox.update({event["id"]: (event, via, now) for event, via, now in new})
                learned: list[bool | None] = [None] * len(new)
            else:
                learned = list(
                    self._apply_many([(e["id"], e["data"]["object"], via, now) for e, via, now in new])
                )
        for i, news in zip(fresh, learned, strict=True):
            answers[i] = (True, news)
        return answers

    def accept_page(self, events: Sequence[dict], via: str, now: float) -> int:
        """Accept a page of B's events (a reconciliation or feed read, a streamed event) and move the
        cursor (``meta["cursor"]``) past it, in one transaction; how many were new to A."""
        with self._atomic():
            new = sum(fresh for fresh, _ in self._accept_many([(event, via, now) for event in events], None))
            if events:
                self.meta["cursor"] = events[-1]["id"]
        return new

    def atomic(self):
        """A context in which every change is one transaction with the store (nested ones join it);
        without a store it does nothing."""
        return self._atomic()

    def pending_events(self) -> list[tuple[str, dict, str]]:
        """``(event_id, event, via)`` of every event accepted and not yet applied, oldest first."""
        return [(event_id, event, via) for event_id, (event, via, _) in self.inbox.items()]

    def apply_pending(self, now: float, limit: int | None = None, *, before_apply=None) -> int:
        """Apply the events waiting in the inbox (the oldest ``limit`` of them, or all), each with its
        own snapshot, as they came: one transaction. How many were applied. ``before_apply``, if
        given, is called with the claimed ``(event_id, (event, via, received_at))`` items first
        (the handler's own work, which the caller's adapter does; the core does none)."""
        with self._atomic():
            pending = claim_oldest(self.inbox, limit)
            if before_apply is not None and pending:
                before_apply(pending)
            self._apply_many(
                [(event_id, event["data"]["object"], via, now) for event_id, (event, via, _) in pending]
            )
            # out of the inbox only once applied: a failure leaves every one of them there
            remove_many(self.inbox, [event_id for event_id, _ in pending])
        return len(pending)

    def dead_letter(self, event_id: str, error: str, now: float) -> None:
        """Set an inbox event whose work failed aside, with the error: out of the inbox (so the
        events behind it are applied) and into :attr:`dead_letters`, in one transaction. Its id
        stays processed: the sender's copies are duplicates, not new tries of the same bug."""
        with self._atomic():
            event, via, _ = self.inbox.pop(event_id)
            self.dead_letters[event_id] = (event, via, error, now)

    def apply_event(self, event_id: str, payment: Mapping, now: float) -> bool:
        """Apply an inbox event, with ``payment`` its snapshot (or the current state fetched from B,
        with ``--on-event refetch``), and take it out of the inbox: one transaction. News -> True."""
        with self._atomic():
            _, via, _ = self.inbox[event_id]
            news = self._apply_many([(event_id, payment, via, now)])[0]
            del self.inbox[event_id]  # only once applied: a failure leaves it there
            return news

    def forget_old_events(self, now: float) -> int:
        """Forget event ids accepted over ``retention_s`` ago (the inbox cannot grow for ever);
        returns how many. Keep ``retention_s`` above the sender's retry window (see
        :data:`INBOX_RETENTION_S`)."""
        return self._events.forget_events_before(now - self.retention_s)

    def pending_ids(self) -> list[str]:
        return sorted(pid for pid, p in self.payments.items() if p["status"] not in FINAL_STATUSES)

    def snapshot(self) -> dict[str, dict]:
        """Every payment as A knows it: ``{id: payment_dict}`` (same shape as B's snapshot)."""
        return {pid: dict(p) for pid, p in self.payments.items()}

    def detach_store(self) -> ShopStore | None:
        """Keep an in-memory copy of the state and stop using the store (before it is closed).

        What A knew stays readable after its database is closed, e.g. in a notebook cell after the
        ``with`` block that ran A. Returns the store that was detached.
        """
        store, self.store = self.store, None
        if store is not None:
            self.payments = dict(self.payments)
            self.processed_events = set(self.processed_events)
            self.fulfilments = dict(self.fulfilments)
            self.inbox = dict(self.inbox)
            self.dead_letters = dict(self.dead_letters)
            self.meta = dict(self.meta)
            self._events = _MemoryEvents(self.processed_events)
            self._atomic = contextlib.nullcontext
        return store

    # --- push -----------------------------------------------------------------------------
    def add_webhook_secret(self, secret: str) -> None:
        """Trust one more signing secret (keep the old one during a rotation)."""
        if secret not in self.webhook_secrets:
            self.webhook_secrets.append(secret)
            if self.store is not None:
                self.store.add_webhook_secret(secret)

    def receive_webhook(
        self, body: bytes, headers: Mapping[str, str], now: float, *, defer: bool | None = None
    ) -> WebhookReply:
        """Handle one webhook request from its raw bytes, arriving at ``now``. Never raises;
        nothing is stored on error. :meth:`verified_webhook` then :meth:`accept_webhooks`.
        """
        checked = self.verified_webhook(body, headers, now)
        if isinstance(checked, WebhookReply):
            return checked
        return self.accept_webhooks([(checked, now)], defer=defer)[0]

    def verified_webhook(self, body: bytes, headers: Mapping[str, str], now: float) -> dict | WebhookReply:
        """The checks of a webhook request that store nothing, in order: size first (cheap), then the
        signature over the *raw* body (before any parsing, so a re-serialised body cannot pass),
        then JSON. The event, or the reply to give instead (an error, or 200 for an ignored type)."""
        try:
            return self._verified_event(body, headers, now)
        except ApiError as err:
            self.rejections.append((now, err.code))
            self.last_refusal = err.to_dict()["error"]
            return WebhookReply(err.status, err.to_dict(), None)

    def accept_webhooks(
        self, events: Sequence[tuple[dict, float]], *, defer: bool | None = None
    ) -> list[WebhookReply]:
        """Accept verified events ``(event, arrived at)`` in one transaction (a group commit: the
        store commits once for them all, or not at all); a reply for each, duplicates included."""
        accepted = self._accept_many([(event, "webhook", now) for event, now in events], defer)
        return [
            WebhookReply(
                200, {"received": True, "duplicate": not new, "event": event["id"]}, news if new else False
            )
            for (event, _), (new, news) in zip(events, accepted, strict=True)
        ]

    def _verified_event(self, body: bytes, headers: Mapping[str, str], now: float) -> dict | WebhookReply:
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(
                413,
                "body_too_large",
                f"webhook body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}",
            )
        if not self.webhook_secrets:
            raise ApiError(
                503, "no_secret",
                "this endpoint has no signing secret yet: register it with System B "
                "(POST /webhook-endpoints) and keep the secret it returns",
            )  # fmt: skip
        try:
            self.scheme.verify(body, headers, self.webhook_secrets, tolerance=self.tolerance_s, now=now)
        except SignatureError as err:
            message = _refusal(err, self.scheme.header, signed_in(headers), self.scheme.name)
            raise ApiError(400, "bad_signature", message, reason=err.reason) from None
        parsed = parse_json(body)
        event = shop_event(parsed)
        if event is IGNORED:
            return _ignored(parsed)
        return validate_event(event)


def _ignored(event: dict) -> WebhookReply:
    """A genuine event of a type A does not handle: answered 200 (else the sender retries it for
    days), storing nothing."""
    answer = {
        "received": True,
        "duplicate": False,
        "event": _text(event.get("id")),
        "ignored": _text(event.get("type")),
    }
    return WebhookReply(200, answer, None)


def _text(value: object) -> str:
    """A field of an ignored event as text for A's answer ("" where it is not a string)."""
    return value if isinstance(value, str) else ""


def _refusal(err: SignatureError, header: str, carried: list[str], expected: str) -> str:
    """What A's 400 says: the verifier's reason, and what most often causes it (a sender in another
    scheme than A's; a relay that re-serialised the body)."""
    message = str(err)
    others = [name for name in carried if name != expected]
    if err.reason == "missing_header" and others:
        message += (
            f". The request is signed in the {others[0]} scheme, and this A verifies {expected}: start A "
            f"with --scheme {others[0]}, or make the sender sign in {expected}"
        )
    elif err.reason == "signature_mismatch":
        message += (
            f". A common cause: a relay that re-serialises JSON (smee-client does); no {header} can "
            f"match the bytes it sends, so it must pass the body on byte for byte"
        )
    return message


class PollSchedule:
    """When to poll which payment: each one every ``interval_s`` from when it was added.

    Sans-I/O: :meth:`due` says what to poll now, :meth:`polled` records that it was.
    """

    def __init__(self, interval_s: float) -> None:
        if not interval_s > 0:
            raise ValueError(f"the polling interval must be > 0 seconds, got {interval_s}")
        self.interval_s = float(interval_s)
        self._queue: list[tuple[float, int, str]] = []
        self._next_at: dict[str, float] = {}
        self._intervals: dict[str, float] = {}  # per-payment intervals, where they differ
        self._seq = 0

    def add(self, payment_id: str, now: float, interval_s: float | None = None) -> None:
        """Poll ``payment_id`` every ``interval_s`` (the schedule's own unless given) from ``now``."""
        if interval_s is not None:
            self.set_interval(payment_id, interval_s)
        self._push(payment_id, now + self._intervals.get(payment_id, self.interval_s))

    def set_interval(self, payment_id: str, interval_s: float) -> None:
        """Poll this payment every ``interval_s`` from its next poll on (an adaptive poller's lever)."""
        if not interval_s > 0:
            raise ValueError(f"the polling interval must be > 0 seconds, got {interval_s}")
        self._intervals[payment_id] = float(interval_s)

    def interval_of(self, payment_id: str) -> float:
        return self._intervals.get(payment_id, self.interval_s)

    def _push(self, payment_id: str, at: float) -> None:
        self._seq += 1
        self._next_at[payment_id] = at
        heapq.heappush(self._queue, (at, self._seq, payment_id))

    def due(self, now: float) -> list[str]:
        """Payments whose poll is due at ``now``, earliest first."""
        out = []
        while self._queue and self._queue[0][0] <= now:
            at, _, payment_id = heapq.heappop(self._queue)
            if self._next_at.get(payment_id) == at:
                out.append(payment_id)
        return out

    def polled(self, payment_id: str, at: float, *, done: bool) -> None:
        """Record a poll made at ``at``; ``done`` stops polling that payment."""
        if done:
            self._next_at.pop(payment_id, None)
        else:
            self._push(payment_id, at + self._intervals.get(payment_id, self.interval_s))

    def next_at(self) -> float | None:
        while self._queue and self._next_at.get(self._queue[0][2]) != self._queue[0][0]:
            heapq.heappop(self._queue)
        return self._queue[0][0] if self._queue else None

    def __len__(self) -> int:
        return len(self._next_at)


# --- many keys at once ---------------------------------------------------------------------------
# A store's tables answer for a whole group in one statement (``read_many``, ``among``,
# ``remove_many``; ``update`` is a mapping's own); plain dicts and sets, one key at a time.
def read_many(table: Mapping, keys: Iterable[str]) -> dict:
    """``{key: table[key]}`` for those of ``keys`` that ``table`` has."""
    many = getattr(table, "read_many", None)
    return many(keys) if many is not None else {k: table[k] for k in keys if k in table}


def among(ids: MutableSet[str], keys: Iterable[str]) -> set[str]:
    """Those of ``keys`` that are in ``ids``."""
    many = getattr(ids, "among", None)
    return many(keys) if many is not None else {k for k in keys if k in ids}


def claim_oldest(inbox: Mapping, limit: int | None) -> list[tuple[str, tuple]]:
    """The oldest ``limit`` items of ``inbox`` (all without a limit). A store shared by several
    workers claims them (``claim_oldest``: rows another worker's transaction holds are skipped, so
    no two apply the same event); a dict, one process, just reads them."""
    many = getattr(inbox, "claim_oldest", None)
    return many(limit) if many is not None else list(itertools.islice(inbox.items(), limit))


def remove_many(table: MutableMapping, keys: Sequence[str]) -> None:
    """Delete ``keys`` (all present) from ``table``."""
    many = getattr(table, "remove_many", None)
    if many is not None:
        many(keys)
        return
    for key in keys:
        del table[key]
