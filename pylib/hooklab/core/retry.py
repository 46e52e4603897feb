"""When a webhook sender tries again: real providers' retry policies, as data.

A policy is a list of waits: after attempt *k* of a delivery **ended** (an answer, a refused
connection, or a timeout), the sender waits ``waits_s[k - 1]`` before attempt *k + 1*; when the list
is used up, the delivery has failed. Waits count from the end of an attempt, as real senders do
("each period is started following the failure of the preceding attempt", Svix), so an endpoint
that times out after 5 s moves every later attempt 5 s later.

A policy also says when a sender stops trying an endpoint altogether (``disable_after_s``: the
endpoint has failed without a success in between for that long) and where its numbers come from.
Figures were checked against the providers' pages on 2026-12-02; providers change them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

_MIN, _HOUR, _DAY = 60.0, 3600.0, 86400.0


@dataclass(frozen=True)
class RetryPolicy:
    """How one sender retries. ``waits_s[k]``: the wait after attempt ``k + 1`` failed."""

    name: str
    waits_s: tuple[float, ...]
    #: Seconds of failing without a success before the endpoint is disabled (None: never).
    disable_after_s: float | None
    source: str
    #: True where the provider does not publish its intervals and these are our reconstruction.
    approximate: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        if any(not (w >= 0) for w in self.waits_s):
            raise ValueError(f"retry waits must be >= 0 seconds, got {self.waits_s}")

    @property
    def attempts(self) -> int:
        """How many times one delivery is tried at most (the first attempt and every retry)."""
        return 1 + len(self.waits_s)

    @property
    def span_s(self) -> float:
        """From the end of the first attempt to the start of the last, if every attempt is instant."""
        return float(sum(self.waits_s))

    def wait_s(
        self, failed_attempt: int, rng: random.Random | None = None, jitter: float = 0.0
    ) -> float | None:
        """The wait after attempt ``failed_attempt`` (1 = the first) failed, or ``None`` when it was
        the last. With ``jitter`` j > 0 the wait is spread uniformly over ``[w(1-j), w(1+j)]``
        (so that endpoints that failed together do not all retry in the same second)."""
        if failed_attempt > len(self.waits_s):
            return None
        wait = self.waits_s[failed_attempt - 1]
        if jitter > 0 and rng is not None:
            wait *= 1 + jitter * (2 * rng.random() - 1)
        return wait

    def attempt_offsets_s(self, attempt_s: float = 0.0) -> list[float]:
        """When each attempt starts, from the start of the first, if every attempt takes ``attempt_s``."""
        out, t = [0.0], 0.0
        for wait in self.waits_s:
            t += attempt_s + wait
            out.append(t)
        return out

    def describe(self) -> dict:
        return {
            "policy": self.name,
            "attempts": self.attempts,
            "span_s": self.span_s,
            "disable_after_s": self.disable_after_s,
            "approximate": self.approximate,
            "source": self.source,
        }


def _exponential(first_s: float, count: int, factor: float = 2.0) -> tuple[float, ...]:
    return tuple(first_s * factor**k for k in range(count))


_SVIX = (5.0, 5 * _MIN, 30 * _MIN, 2 * _HOUR, 5 * _HOUR, 10 * _HOUR, 10 * _HOUR)

#: Every named policy. ``fast`` is the teaching schedule the live notebooks use.
POLICIES: dict[str, RetryPolicy] = {
    p.name: p
    for p in (
        RetryPolicy(
            "fast", (0.5, 1.0, 2.0, 4.0, 8.0), 60.0,
            "hooklab's own: the svix shape scaled down to seconds, so a notebook cell sees it through",
            note="disabled after 60 s of failing (svix: 5 days)",
        ),
        RetryPolicy(
            "svix", _SVIX, 5 * _DAY, "https://docs.svix.com/retries",
            note="disabled after failing for 5 days (the clock starts after several failures within 24 h)",
        ),
        RetryPolicy(
            # the spec's "Example retry schedule": svix's up to 10 h (once), then 14 h, 20 h, 24 h,
            # ending 75:35:05 after the first attempt
            "standard", (*_SVIX[:6], 14 * _HOUR, 20 * _HOUR, 24 * _HOUR), 5 * _DAY,
            "https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md",
            note="the Standard Webhooks spec's example schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, "
            "20 h, 24 h: 75 h 35 min 5 s); the spec recommends disabling an endpoint that keeps failing "
            "without saying when, so svix's 5 days stand in",
        ),
        RetryPolicy(
            # "8 times over 4 hours using an exponential backoff schedule": doubling waits that add up to 4 h
            "shopify", _exponential(4 * _HOUR / 255, 8), 4 * _HOUR,
            "https://shopify.dev/changelog/updates-to-webhook-retry-mechanism",
            approximate=True,
            note="8 retries over 4 h, exponential (Shopify publishes no intervals: doubling waits that "
            "add up to 4 h); a subscription made through the Admin API is deleted after 8 failures",
        ),
        RetryPolicy(
            # "for up to 3 days with an exponential back off": doubling from 1 min, capped at 16 h; the
            # last wait makes the 14 retries end exactly 3 days after the first attempt
            "stripe", (60.0, 2 * _MIN, 4 * _MIN, 8 * _MIN, 16 * _MIN, 32 * _MIN, _HOUR, 2 * _HOUR,
                       4 * _HOUR, 8 * _HOUR, 16 * _HOUR, 16 * _HOUR, 16 * _HOUR, 28620.0),
            None, "https://docs.stripe.com/webhooks",
            approximate=True,
            note="Stripe retries for up to 3 days in live mode with exponential backoff and does not "
            "publish its intervals: this schedule is an approximation that ends at 3 days",
        ),
        RetryPolicy(
            "github", (), None,
            "https://docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries",
            note="GitHub does not redeliver failed deliveries by itself: redeliver them by API",
        ),
    )
}  # fmt: skip

#: The policy names, for ``--retries``.
POLICY_NAMES = tuple(POLICIES)


def retry_policy(spec: str | Sequence[float] | RetryPolicy) -> RetryPolicy:
    """A policy from a name (``svix``), a comma-separated list of waits (``"0.2,0.4,0.8"``), a
    sequence of waits, or a policy (returned as it is). A custom list is never disabled."""
    if isinstance(spec, RetryPolicy):
        return spec
    if isinstance(spec, str):
        if spec in POLICIES:
            return POLICIES[spec]
        try:
            waits = tuple(float(part) for part in spec.split(",") if part.strip())
        except ValueError:
            raise ValueError(
                f"unknown retry policy {spec!r}: use one of {', '.join(POLICY_NAMES)} "
                "or a comma-separated list of waits in seconds, e.g. 0.5,1,2"
            ) from None
        return RetryPolicy("custom", waits, None, "given as a list of waits")
    return RetryPolicy("custom", tuple(float(w) for w in spec), None, "given as a list of waits")


#: The longest ``Retry-After`` a sender obeys (a hostile or broken receiver must not park a delivery
#: for a year); longer values are cut to this.
MAX_RETRY_AFTER_S = 3600.0


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (RFC 9110 10.2.3: delay-seconds or an HTTP date), or
    ``None`` if it is absent or unreadable; never negative, at most :data:`MAX_RETRY_AFTER_S`."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        from email.utils import parsedate_to_datetime  # only for the rare date form

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None or now is None:
            return None
        seconds = when.timestamp() - now
    return max(0.0, min(seconds, MAX_RETRY_AFTER_S))


def full_jitter_s(attempt: int, rng: random.Random, *, base_s: float = 0.1, cap_s: float = 10.0) -> float:
    """Seconds to wait before retry ``attempt`` (1 = the first retry) with exponential backoff and
    full jitter: uniform between 0 and ``min(cap_s, base_s * 2 ** attempt)`` (Marc Brooker, "Exponential
    Backoff And Jitter", AWS Architecture Blog, 2015). Clients that failed together retry apart."""
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    return rng.uniform(0.0, min(cap_s, base_s * 2**attempt))
