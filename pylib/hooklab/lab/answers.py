"""Exercise checks kept out of the notebooks, so that a check cell shows no answer.

A check cell calls one by name, ``lab.check_answer("04-break-even", answer)``: it prints "not
answered yet", "Right: ..." or a hint, as :func:`~hooklab.lab.exercises.self_check` does, but the
value, the formula and the text shown when right all live here, not in the cell a learner reads
before answering. The collapsed worked solution calls ``lab.worked_solution(name, value)``, which
fails unless the value is right, so the test suite proves every exercise answerable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hooklab.lab.exercises import self_check, solved


@dataclass(frozen=True)
class Exercise:
    verify: Callable[..., str | None]  # (answer, **context) -> None when right, else a hint
    right: str  # shown once the answer is right


# --- 00 · the index's two warm-ups -------------------------------------------------------------


def _polls_per_hour(answer) -> str | None:
    from hooklab.sim import simulate

    if answer != simulate("poll", interval_s=5, records=20, duration_s=3600).summary["requests"]:
        return "each payment is asked once per interval: how many intervals fit in an hour, for each payment?"
    return None


def _deliveries(answer) -> str | None:
    from hooklab.sim import simulate

    if answer != simulate("webhook", workload="settlement", records=20).summary["requests"]:
        return "B sends one request per change, and nothing is lost: how many changes are there?"
    return None


# --- 01 · API polling -------------------------------------------------------------------------


def _empty_share(answer, *, records: int) -> str | None:
    from hooklab.sim import simulate

    if not 0 <= answer <= 1:
        return "a share is a number between 0 and 1"
    measured = simulate("poll", interval_s=45, records=records, rate_per_s=1 / 300, duration_s=7200).summary
    if abs(answer - measured["empty_fraction"]) >= 0.02:
        return (
            "more than 0.02 from the measured share: what is the chance that no change falls in one interval?"
        )
    return None


def _requests_for_a_2_s_wait(answer, *, rate_per_s: float) -> str | None:
    from hooklab.sim import simulate

    measured = simulate("poll", interval_s=4, records=200, rate_per_s=rate_per_s, duration_s=600).summary
    assert abs(measured["latency_mean_s"] - 2) < 0.2  # the interval that gives a 2 s average wait
    if answer != measured["requests"] * 6:
        return "the average wait is T/2, so first find T; then each record costs 3600/T requests an hour"
    return None


def _max_records(answer) -> str | None:
    from hooklab.lab.experiments import requests_per_hour

    if requests_per_hour(answer, 60) > 5_000:
        return "that many records polled every minute pass 5,000 requests an hour"
    if requests_per_hour(answer + 1, 60) <= 5_000:
        return "you could watch more: one more record still fits under the limit"
    return None


def _predictions(answers, *, payments: int, settlement) -> str | None:
    from hooklab.sim import simulate

    fast, slow = (
        simulate("poll", interval_s=t, workload="settlement", records=payments, settlement=settlement,
                 seed=1).summary
        for t in (0.5, 2)
    )  # fmt: skip
    more_polls, longer_wait = answers
    if None in answers:
        return "make both predictions (True or False)"
    if more_polls != (slow["requests"] > fast["requests"]):
        return "reconsider the polls: each payment is asked once per interval until it settles"
    if longer_wait != (slow["latency_mean_s"] > fast["latency_mean_s"]):
        return "reconsider the wait: a change is seen at the next poll, on average half an interval later"
    return None


# --- 02 · webhooks ----------------------------------------------------------------------------


def _first_attempt_back(answer) -> str | None:
    from hooklab.core.provider import DEFAULT_RETRY_SCHEDULE
    from hooklab.lab.demos import first_attempt_after

    if answer != first_attempt_after(10, DEFAULT_RETRY_SCHEDULE):
        return (
            "list lab.attempt_times() (A refuses connections while down, so each try fails at once) "
            "and find the first at or after 10 s"
        )
    return None


def replies_to_variants(*, body: bytes, headers: dict, secret: str, now: float) -> dict[str, int]:
    """What a fresh A answers each of 02's exercise 2 variants, each sent after the genuine delivery:
    (a) a new ``Hooklab-Attempt`` header, (b) the body re-serialised, (c) ten minutes later, (d) as is."""
    import json

    from hooklab.core.shop import Shop

    out = {}
    for letter in "abcd":
        shop = Shop(webhook_secrets=[secret])
        shop.receive_webhook(body, headers, now)
        variant_body, variant_headers, at = body, dict(headers), now
        if letter == "a":
            variant_headers["Hooklab-Attempt"] = "2"
        elif letter == "b":
            variant_body = json.dumps(json.loads(body), indent=2).encode()
        elif letter == "c":
            at = now + 600
        out[letter] = shop.receive_webhook(variant_body, variant_headers, at).status
    return out


def _which_pass(answer, **delivery) -> str | None:
    if not isinstance(answer, set):
        return 'write a set of letters, like {"a", "c"}'
    passing = {letter for letter, status in replies_to_variants(**delivery).items() if status == 200}
    if answer - passing:
        return "one of yours is refused: what exactly does the signature cover, and for how long?"
    if passing - answer:
        return "one more passes: which headers are not signed, and what does A answer an event it has seen?"
    return None


def _slow_handler(answers, *, delivery_timeout_s: float) -> str | None:
    from hooklab.core.provider import DEFAULT_RETRY_SCHEDULE
    from hooklab.lab.demos import attempt_times

    times, last_s = answers
    starts = attempt_times(DEFAULT_RETRY_SCHEDULE, attempt_s=delivery_timeout_s)
    assert delivery_timeout_s < 7  # every attempt times out, so B retries until its schedule ends
    if times != len(starts):
        return "every attempt times out and counts as failed: how many attempts does B's schedule allow?"
    if last_s is None or abs(last_s - starts[-1]) > 0.01:
        return "each attempt now lasts DELIVERY_TIMEOUT_S before B starts its wait: add both up"
    return None


# --- 03 · signature verification --------------------------------------------------------------

#: 03's exercise 1: A's clock is this many seconds slow, and runs with this tolerance
SLOW_CLOCK_S, EXERCISE_TOLERANCE_S = 40, 90


def _replay_with_a_slow_clock(answer, *, body: bytes, header: str, secret: str) -> str | None:
    from hooklab.core.signing import verify_stripe
    from hooklab.lab.attacks import verdict

    def at_true_time(true_time):  # A reads its clock SLOW_CLOCK_S behind the true time
        now_at_a = true_time - SLOW_CLOCK_S
        return verdict(verify_stripe, body, header, secret, tolerance=EXERCISE_TOLERANCE_S, now=now_at_a)

    if at_true_time(answer) != "accepted":
        return f"at that true time A says {at_true_time(answer)}: too late (whose clock does A compare with?)"
    if at_true_time(answer + 1) != "timestamp_too_old":
        return "one second later A still accepts: go later"
    return None


def _proxy_newline(answer, *, body: bytes, header: str, secret: str, t0: int) -> str | None:
    from hooklab.core.signing import REASONS, verify_stripe
    from hooklab.lab.attacks import verdict

    if answer not in REASONS:
        return f"pick one of {sorted(REASONS)}"
    if answer != verdict(verify_stripe, body + b"\n", header, secret, now=t0):
        return (
            "not that one: does one extra byte change the header's form, the time, or what the HMAC covers?"
        )
    return None


def _rotation_header(answer, *, body: bytes, old: str, new: str, t0: int) -> str | None:
    from hooklab.core.signing import verify_stripe
    from hooklab.lab.attacks import verdict

    if answer.count("t=") != 1:
        return "one timestamp for the header, signed into every v1"
    if verdict(verify_stripe, body, answer, old, now=t0) != "accepted":
        return "the servers that know only OLD refuse it"
    if verdict(verify_stripe, body, answer, new, now=t0) != "accepted":
        return "the servers that know only NEW refuse it"
    return None


def _js_like_reserialise(body: bytes) -> bytes:
    """``JSON.stringify(JSON.parse(body))`` for the bodies of 03's exercise 5, in Python: no spaces,
    keys in order, characters as themselves, a whole number written without ``.0``
    (tests/test_real_peers.py checks it against Node for those bodies)."""
    import json

    def js(value):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, dict):
            return {key: js(item) for key, item in value.items()}
        if isinstance(value, list):
            return [js(item) for item in value]
        return value

    return json.dumps(js(json.loads(body)), separators=(",", ":"), ensure_ascii=False).encode()


def _relay_survivors(answer, *, bodies: dict[str, bytes]) -> str | None:
    if not isinstance(answer, set | frozenset | list | tuple) or not set(answer) <= set(bodies):
        return f"answer with a set of labels from {sorted(bodies)}, e.g. {{'a'}}"
    survivors = {label for label, body in bodies.items() if _js_like_reserialise(body) == body}
    rules = ("JSON.stringify writes no spaces, keeps the keys in their order, writes a number in "
             "JavaScript's shortest form and a non-ASCII character as itself")  # fmt: skip
    if set(answer) - survivors:
        return f"at least one of your picks comes out changed: {rules}"
    if survivors - set(answer):
        return f"at least one body you left out comes out exactly as it went in: {rules}"
    return None


#: 03's exercise 4 signs its own message (the specification's example is printed in section 6)
STANDARD_EXERCISE_ID = "msg_hooklab_exercise_4"


def _standard_by_hand(answer, *, body: bytes, secret: str, timestamp: int) -> str | None:
    from hooklab.core.signing import sign_standard

    if not isinstance(answer, str) or not answer.startswith("v1,"):
        return "the header value is 'v1,' followed by the base64 of the HMAC"
    if answer != sign_standard(STANDARD_EXERCISE_ID, timestamp, body, secret):
        return "not the value B sends: is the key the decoded secret, and is the content <id>.<timestamp>.<body>?"
    return None


# --- 04 · pull vs push ------------------------------------------------------------------------


def _break_even(answer) -> str | None:
    from hooklab.lab.experiments import scan

    rows = scan("interval_s", [answer / 3, answer * 3], records=40, rate_per_s=12 / 3600, duration_s=3600)
    shorter, longer = rows.iloc[0], rows.iloc[1]
    if shorter["poll_requests_per_hour"] <= shorter["webhook_requests_per_hour"]:
        return "too long: polling is already cheaper at a third of it"
    if longer["poll_requests_per_hour"] >= longer["webhook_requests_per_hour"]:
        return "too short: polling still costs more at three times it"
    if abs(answer - 300) >= 1:
        return "close, but not exact: when does one poll per record cost as much as the changes it looks for?"
    return None


def _hybrid_requests(answer) -> str | None:
    from hooklab.lab.experiments import point
    from hooklab.sim import simulate

    run = simulate("hybrid", records=200, rate_per_s=1 / 3600, reconcile_s=900, duration_s=3600, seed=1)
    if abs(answer / point(run)["requests_per_hour"] - 1) >= 0.1:
        return "more than 10% off: count both kinds, the webhooks (N·λ) and the reconciliation polls (N/T)"
    return None


def _parcels(answer) -> str | None:
    from hooklab.lab.experiments import scenario_table

    if answer not in ("poll", "webhook"):
        return 'write "poll" or "webhook"'
    parcels = scenario_table([{"name": "parcels", "records": 300, "changes_per_hour": 4 / 24, "wait_s": 600}])
    if answer != parcels.loc["parcels", "cheaper"]:
        return "not this one: compare N/T (T = 2 x the wait) with N·λ, both per hour"
    return None


# --- 05 · reliability -------------------------------------------------------------------------


def _first_attempt_after_outage(answer) -> str | None:
    from hooklab.lab.reliability import schedules

    attempts = schedules()
    svix_at = attempts[attempts["policy"] == "svix"].set_index("attempt")["at_s"]
    if answer not in svix_at.index:
        return f"Svix makes attempts 1 to {svix_at.index.max()}: pick one of them"
    if svix_at[answer] < 6 * 3600:
        return "that attempt still comes while A is down: look at when each attempt is made"
    if answer > 1 and svix_at[answer - 1] >= 6 * 3600:
        return "an earlier attempt already comes after A is back"
    return None


def _id_memory(answer) -> str | None:
    from hooklab.core.retry import POLICIES

    span_h = POLICIES["standard"].span_s / 3600
    if answer < span_h - 0.05:
        return "too short: a retry can still come after that; when is the last attempt made?"
    if answer > span_h + 0.05:
        return "long enough, but not the least: the last attempt comes earlier than that"
    return None


def _shopify_share(answer) -> str | None:
    from hooklab.lab.reliability import delivered_share

    if not 0 <= answer <= 1:
        return "a share is between 0 and 1"
    shopify_8h = delivered_share(["shopify"], [8 * 3600]).iloc[0]
    if abs(answer - shopify_8h["theory"]) < 0.02 and shopify_8h["disabled"]:
        return (
            "that is what the schedule alone gives: what does Shopify do with an endpoint that keeps failing?"
        )
    if abs(answer - shopify_8h["share"]) >= 0.02:
        return "not quite: when does the last attempt of an event come, and is anyone still trying then?"
    return None


# --- 06 · smarter polling ---------------------------------------------------------------------


def _share_304(answer) -> str | None:
    from hooklab.sim import simulate

    if not 0 <= answer <= 1:
        return "a share is between 0 and 1"
    run = simulate("conditional", interval_s=300, records=200, rate_per_s=1 / 300, duration_s=7200)
    if abs(answer - run.summary["not_modified"] / run.summary["requests"]) > 0.03:
        return "not quite: what is the chance that a Poisson process has no event in one interval, at λT = 1?"
    return None


def _naive_interval(answer) -> str | None:
    if answer * 5000 < 2000 * 3600 * 0.999:
        return "too short: count the polls per hour, N x 3600 / T, against the limit"
    if answer * 5000 > 2000 * 3600 * 1.001:
        return "that keeps under the limit, but a shorter interval would too"
    return None


# --- 07 · stability ---------------------------------------------------------------------------


def _capacity(answer) -> str | None:
    if answer <= 0:
        return "a capacity is a positive number of events a second"
    if abs(answer - 4 / 0.05) > 0.5:
        return "each handler finishes one event every 50 ms: how many is that a second, and there are 4"
    return None


def _drain_time(answer) -> str | None:
    from hooklab.lab.stability import pushed

    # the burst all at once, then 5 a second for as long as it takes; one worker, 20 a second
    changes = np.concatenate([np.zeros(3000), np.arange(1, 2001) / 5.0])
    done = changes + pushed(changes, work_s=1 / 20)["latencies"]
    empty_at = next(float(t) for t, d in zip(changes[3000:], done[2999:-1], strict=True) if d <= t)
    if abs(answer - empty_at) > 0.02 * empty_at:
        return ("the queue shrinks only by what the worker does more than what keeps arriving: how many a "
                "second is that, and how many must it work off?")  # fmt: skip
    return None


def _throttled_send(answer) -> str | None:
    if answer < 58.5:
        return (
            "too soon: a bucket of 20 goes at once, then 20 a second; how many are left after the first 20?"
        )
    if answer > 60.5:
        return "B sends faster than that: 20 at once, then 20 every second"
    return None


#: Every exercise of the series, by the name its notebook calls it with.
EXERCISES = {
    "00-polls-per-hour": Exercise(_polls_per_hour, "one request per payment every interval, news or not"),
    "00-deliveries": Exercise(_deliveries, "one delivery per change, none empty"),
    "01-empty-share": Exercise(_empty_share, "a poll is empty when nothing changed since the last: exp(-λT)"),
    "01-requests-for-a-2-s-wait": Exercise(_requests_for_a_2_s_wait, "T = 4 s, so 200 x 3600 / 4"),
    "01-max-records": Exercise(_max_records, "one more record and you would pass the limit"),
    "01-predictions": Exercise(_predictions, "fewer polls, a longer wait"),
    "02-first-attempt-back": Exercise(_first_attempt_back, "the first attempt at or after 10 s reaches A"),
    "02-which-pass": Exercise(
        _which_pass, "only the body and the timestamp are signed; a resent event is a 200 duplicate"
    ),
    "02-slow-handler": Exercise(_slow_handler, "answer fast, and de-duplicate"),
    "03-replay-with-a-slow-clock": Exercise(
        _replay_with_a_slow_clock,
        "A's window is measured on A's clock: a slow clock lets a replay in for longer",
    ),
    "03-proxy-newline": Exercise(
        _proxy_newline, "one byte more is a different message; verify the bytes exactly as sent"
    ),
    "03-rotation-header": Exercise(_rotation_header, "one t, one v1 entry per secret"),
    "03-standard-by-hand": Exercise(_standard_by_hand, "the value B's sign_standard computes"),
    "03-relay-survivors": Exercise(
        _relay_survivors,
        "only bodies already written as JSON.stringify writes them: a signature survives by luck",
    ),
    "04-break-even": Exercise(_break_even, "polling and webhooks break even at T = 1/λ"),
    "04-hybrid-requests": Exercise(_hybrid_requests, "webhooks plus reconciliation polls"),
    "04-parcels": Exercise(_parcels, "compare N/T with N·λ"),
    "05-first-attempt-after-outage": Exercise(
        _first_attempt_after_outage, "the first attempt after the outage"
    ),
    "05-id-memory": Exercise(_id_memory, "as long as the schedule: the last retry's delay"),
    "05-shopify-share": Exercise(_shopify_share, "a disabled endpoint receives nothing"),
    "06-share-304": Exercise(_share_304, "exp(-λT): no change in the interval"),
    "06-naive-interval": Exercise(_naive_interval, "N x 3600 / limit"),
    "07-capacity": Exercise(_capacity, "handlers / seconds of work per event"),
    "07-drain-time": Exercise(_drain_time, "the backlog over the surplus: 3,000 / (20 - 5)"),
    "07-throttled-send": Exercise(_throttled_send, "(1,200 - 20) / 20 after the first bucket"),
}


def _exercise(name: str) -> Exercise:
    if name not in EXERCISES:
        raise KeyError(f"no exercise {name!r}; known: {', '.join(EXERCISES)}")
    return EXERCISES[name]


def check_answer(name: str, answer: object, **context) -> None:
    """The self-check of exercise ``name`` (``context``: the notebook's parameters it depends on)."""
    exercise = _exercise(name)
    self_check(answer, functools.partial(exercise.verify, **context), right=exercise.right)


def worked_solution(name: str, answer: object, **context) -> None:
    """The worked solution's check of exercise ``name``: fails unless ``answer`` is right."""
    exercise = _exercise(name)
    solved(answer, functools.partial(exercise.verify, **context), right=exercise.right)
