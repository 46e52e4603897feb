"""Self-checks for the notebooks' exercises: they guide, they never give the answer away.

Each exercise has three cells: the learner's answer (``answer = None`` until they write one), a
self-check, and a collapsed worked solution. The self-check calls :func:`self_check`: for the
placeholder it says "not answered yet" and fails nothing; for an attempt it says "right", or what
to reconsider (a hint the exercise wrote, never the value). The solution cell runs the same check
on the worked answer through :func:`solved`, which fails unless it is right (so the test suite
proves every exercise is answerable) and prints nothing (so Run All shows no answer).
"""

from __future__ import annotations

from collections.abc import Callable

NOT_ANSWERED = (
    "Not answered yet: replace None in the cell above with your answer, run it, then run this cell."
)


def is_placeholder(answer: object) -> bool:
    """``None`` or ``...``, or a tuple of them (an exercise with several answers): what the answer
    cells hold before the learner writes anything."""
    if isinstance(answer, tuple):
        return all(map(is_placeholder, answer))
    return answer is None or answer is Ellipsis


def _hint(answer: object, verify: Callable[[object], str | None]) -> str | None:
    try:
        return verify(answer)
    except (TypeError, ValueError, ArithmeticError, AttributeError) as err:  # an answer of the wrong kind
        return f"that answer cannot be checked ({type(err).__name__}: {err}); see what kind of value the exercise asks for"


def self_check(answer: object, verify: Callable[[object], str | None], *, right: str) -> None:
    """Check ``answer`` with ``verify`` (which returns ``None`` when it is right, else a hint).

    Prints one line: not answered yet, ``Right: <right>``, or ``Not yet: <hint>``. Never fails:
    an exercise is for thinking, and a wrong answer is a step on the way.
    """
    if is_placeholder(answer):
        print(NOT_ANSWERED)
        return
    hint = _hint(answer, verify)
    print(f"Not yet: {hint}" if hint else f"Right: {right}")


def solved(answer: object, verify: Callable[[object], str | None], *, right: str) -> None:
    """The worked solution's check: an answer that is not right fails; a right one prints nothing,
    so after Run All no output opens under the exercise to show the answer (``right`` is kept for
    the reader of the cell)."""
    hint = "it is still the placeholder" if is_placeholder(answer) else _hint(answer, verify)
    if hint:
        raise AssertionError(f"the worked solution is wrong: {hint}")
