"""The self-check helpers: they guide and never fail for the learner; solutions must be right."""

from __future__ import annotations

import pytest

from hooklab.lab.exercises import NOT_ANSWERED, self_check, solved


def verify(answer):
    return None if answer == 42 else "think about the question again"


@pytest.mark.parametrize("placeholder", [None, ...])
def test_a_placeholder_is_not_answered_yet_and_fails_nothing(placeholder, capsys):
    self_check(placeholder, verify, right="the answer")
    assert capsys.readouterr().out.strip() == NOT_ANSWERED


def test_a_wrong_answer_gets_the_hint_and_not_the_value(capsys):
    self_check(41, verify, right="42 it is")
    out = capsys.readouterr().out
    assert out.startswith("Not yet: think about") and "42" not in out


def test_an_answer_of_the_wrong_kind_says_so_instead_of_raising(capsys):
    self_check("forty-two", lambda a: None if a + 1 == 43 else "no", right="x")
    assert "cannot be checked" in capsys.readouterr().out


def test_a_right_answer_is_confirmed(capsys):
    self_check(42, verify, right="42 it is")
    assert capsys.readouterr().out.strip() == "Right: 42 it is"


def test_a_worked_solution_fails_unless_it_is_right(capsys):
    solved(42, verify, right="ok")
    with pytest.raises(AssertionError, match="think about"):
        solved(41, verify, right="ok")
    with pytest.raises(AssertionError, match="placeholder"):
        solved(None, verify, right="ok")


def test_several_answers_still_unanswered_are_a_placeholder(capsys):
    self_check((None, None), verify, right="x")
    assert capsys.readouterr().out.strip() == NOT_ANSWERED
    self_check((None, 3), lambda a: "make both", right="x")  # half answered: checked, and told
    assert capsys.readouterr().out.startswith("Not yet: make both")
