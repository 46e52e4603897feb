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

from hooklab.lab.exercises import self_check, solved


@dataclass(frozen=True)
class Exercise:
    verify: Callable[..., str | None]  # (answer, **context) -> None when right, else a hint
    right: str  # shown once the answer is right


def _requests_for_a_2_s_wait(answer, *, rate_per_s: float) -> str | None:
    from hooklab.sim import simulate

    measured = simulate("poll", interval_s=4, records=200, rate_per_s=rate_per_s, duration_s=600).summary
    assert abs(measured["latency_mean_s"] - 2) < 0.2  # the interval that gives a 2 s average wait
    if answer != measured["requests"] * 6:
        return "the average wait is T/2, so first find T; then each record costs 3600/T requests an hour"
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


def _naive_interval(answer) -> str | None:
    if answer * 5000 < 2000 * 3600 * 0.999:
        return "too short: count the polls per hour, N x 3600 / T, against the limit"
    if answer * 5000 > 2000 * 3600 * 1.001:
        return "that keeps under the limit, but a shorter interval would too"
    return None


#: Every exercise checked here, by the name its notebook calls it with.
EXERCISES = {
    "01-requests-for-a-2-s-wait": Exercise(_requests_for_a_2_s_wait, "T = 4 s, so 200 x 3600 / 4"),
    "01-predictions": Exercise(_predictions, "fewer polls, a longer wait"),
    "04-break-even": Exercise(_break_even, "polling and webhooks break even at T = 1/λ"),
    "06-naive-interval": Exercise(_naive_interval, "N x 3600 / limit"),
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
