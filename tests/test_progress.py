"""Progress bars: shown for long sweeps, scans and waits, off under HOOKLAB_PROGRESS=0."""

from __future__ import annotations

import time

import pytest

from hooklab import lab
from hooklab.live.runs import wait_until
from hooklab.measure import progress


@pytest.fixture
def bars_on(monkeypatch):
    monkeypatch.setenv("HOOKLAB_PROGRESS", "1")
    monkeypatch.setattr(progress, "DELAY_S", 0.0)  # show at once: the test need not be slow


def test_a_sweep_shows_a_bar_in_a_terminal(bars_on, capsys):
    table = lab.sweep([5, 10, 20], records=5, duration_s=600, workers=1)
    err = capsys.readouterr().err
    assert "sweep:" in err and "/3 [" in err and "interval" in err  # a bar of 3 intervals
    assert len(table) == 3


def test_a_scan_and_a_wait_show_bars(bars_on, capsys):
    lab.scan("records", [2, 4], interval_s=60, duration_s=600)
    assert "scan records" in capsys.readouterr().err
    start = time.monotonic()
    wait_until(lambda: time.monotonic() - start > 1.2, timeout_s=5, what="a second")
    err = capsys.readouterr().err
    assert "waiting for a second" in err and "/5 [" in err  # seconds of the 5 s timeout


def test_bars_are_off_under_the_test_runs(capsys, monkeypatch):
    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    assert not progress.enabled()  # conftest sets HOOKLAB_PROGRESS=0, as nbval's kernels inherit
    lab.sweep([5, 10], records=5, duration_s=600, workers=1)
    assert capsys.readouterr().err == ""
