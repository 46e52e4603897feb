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


@pytest.mark.slow
def test_a_notebook_bar_leaves_no_widget_behind_in_the_saved_outputs(monkeypatch):
    """In a kernel the bar is a widget that replaces itself with an empty output when done: a saved
    notebook holds no widget view (JupyterLab reopens one as 'model not found') and no red bar."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("HOOKLAB_PROGRESS", "1")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import time\n"
            "from hooklab.measure import progress\n"
            "from hooklab.live.runs import wait_until\n"
            "progress.DELAY_S = 0.0\n"
            "for _ in progress.bar(range(3), desc='steps'):\n"
            "    time.sleep(0.05)\n"
            "start = time.monotonic()\n"
            "wait_until(lambda: time.monotonic() - start > 1.1, timeout_s=5, what='a second')\n"
            "print('done')"
        )
    ]
    NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    assert any(o.get("text") == "done\n" for o in outputs)
    kinds = [kind for o in outputs for kind in o.get("data", {})]
    assert "application/vnd.jupyter.widget-view+json" not in kinds, outputs
    assert kinds.count("text/plain") == 2  # the two bars, each replaced by an empty output
