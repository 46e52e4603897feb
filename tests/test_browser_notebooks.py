"""Every notebook, opened in JupyterLab in a real (headless) Chromium, run cell by cell from the UI.

What a learner does: ``make lab``, open a notebook, Run > Run All Cells. The test starts
JupyterLab the way ``make lab`` does (on copies in a temporary folder, a token, 127.0.0.1 only),
drives Debian's chromium through Playwright, and fails on a page that does not render (fewer cells
on screen than in the file), a cell that never finishes, any error output (read back from the
saved notebook), or any request off 127.0.0.1. New notebooks are covered as they arrive.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from test_openapi_docs import CHROMIUM  # noqa: I001 (the tests folder is on sys.path)

from hooklab.lab.launcher import jupyter_command, make_copies, wait_until_up
from hooklab.lab.notebook_tools import series

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM) and not os.environ.get("HOOKLAB_REQUIRE_BROWSER"),
        reason="needs Debian's chromium (.ci/run installs it, and there a missing browser fails)",
    ),
]
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOK_TIMEOUT_S = 240
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    for copy in make_copies(root):  # as a learner gets them, then cleared: what is saved later ran here
        nb = json.loads((root / copy).read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"], cell["execution_count"] = [], None
        (root / copy).write_text(json.dumps(nb))
    port, token = _free_port(), secrets.token_hex(16)
    # progress bars on, as a learner has them (pytest turns them off for nbval)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(root / ".runtime"), "HOOKLAB_PROGRESS": "1"}
    log = open(root / ".jupyterlab.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(jupyter_command(port, root, token, []), stdout=log, stderr=log, env=env)
    try:
        wait_until_up(port, token, proc)
        yield f"http://127.0.0.1:{port}", token, root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield chromium
        chromium.close()


def _saved_outputs(base: str, token: str, name: str) -> list[dict]:
    model = httpx.get(f"{base}/api/contents/{name}?token={token}", timeout=30).json()
    return [c for c in model["content"]["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", series(NOTEBOOKS), ids=lambda p: p.name)
def test_notebook_runs_in_jupyterlab_from_the_ui(jupyterlab, browser, path):
    base, token, root = jupyterlab
    name = path.name
    code_cells = sum(c["cell_type"] == "code" for c in json.loads((root / name).read_text())["cells"])
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    off_machine: list[str] = []
    page.on("request", lambda r: None if r.url.startswith("http://127.0.0.1:") else off_machine.append(r.url))
    try:
        # a workspace of its own, reset: only this notebook is open (JupyterLab restores open tabs)
        page.goto(f"{base}/lab/workspaces/{path.stem}/tree/{name}?reset&token={token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell", timeout=60_000)
        with contextlib.suppress(Exception):  # a fresh session may ask for a kernel: the notebook's own
            page.locator(".jp-Dialog").get_by_role("button", name="Select", exact=True).click(timeout=3_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
        # JupyterLab renders a long notebook's cells progressively (windowing "defer"): wait for all
        cells_shown = page.locator(".jp-NotebookPanel:visible .jp-CodeCell")
        deadline = time.monotonic() + 60
        while cells_shown.count() < code_cells and time.monotonic() < deadline:
            time.sleep(0.25)
        assert cells_shown.count() == code_cells, "the page did not render every cell"
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        deadline = time.monotonic() + NOTEBOOK_TIMEOUT_S
        prompts = page.locator(".jp-NotebookPanel:visible .jp-CodeCell .jp-InputPrompt")
        while True:
            texts = prompts.all_inner_texts()
            done = all(t.strip() not in ("[*]:", "[ ]:") for t in texts)
            if done and page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count():
                break
            assert time.monotonic() < deadline, (
                f"{name}: cells still running after {NOTEBOOK_TIMEOUT_S} s: {texts}"
            )
            time.sleep(0.5)
        # save until every code cell has its count in the file: on a loaded machine the prompts and
        # the idle indicator can look finished for a moment while the queue still holds cells
        deadline = time.monotonic() + NOTEBOOK_TIMEOUT_S
        while True:
            page.keyboard.press("Control+s")
            page.wait_for_timeout(1000)
            if all(c["execution_count"] for c in _saved_outputs(base, token, name)):
                break
            if time.monotonic() > deadline:
                break
        # no pop-up asking to fetch Jupyter's news (the launcher's settings turn the question off)
        assert page.get_by_text("official Jupyter news").count() == 0, f"{name}: the news pop-up showed"
        # every progress bar replaced itself when its work was done: none left, red or part-full
        assert page.locator(".jp-NotebookPanel:visible .widget-progress").count() == 0, (
            f"{name}: a bar was left"
        )
        # what a learner sees on opening the saved notebook another day: its kernel gone, no widget
        # whose model is gone with it
        for session in httpx.get(f"{base}/api/sessions?token={token}", timeout=30).json():
            httpx.delete(f"{base}/api/sessions/{session['id']}?token={token}", timeout=30)
        page.reload()
        page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell", timeout=60_000)
        with contextlib.suppress(Exception):  # the new session may ask for a kernel
            page.locator(".jp-Dialog").get_by_role("button", name="Select", exact=True).click(timeout=3_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
        page.wait_for_timeout(2000)  # widget outputs render once the widget manager has loaded
        assert page.get_by_text("model not found").count() == 0, (
            f"{name}: a widget reopens as 'model not found'"
        )
    finally:
        page.close()
    cells = _saved_outputs(base, token, name)
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(cells) for o in c["outputs"]
              if o["output_type"] == "error"]  # fmt: skip
    assert errors == [], f"{name}: error outputs {errors}"
    missing = [i for i, c in enumerate(cells) if not c["execution_count"]]
    assert not missing, f"{name}: code cells {missing} did not run (or the save did not land)"
    # a widget saved in an output (01's slider) reopens only if its state was saved with it
    # (JupyterLab's saveState, set by the launcher); the progress bars leave none
    model = httpx.get(f"{base}/api/contents/{name}?token={token}", timeout=30).json()["content"]
    state = model["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    views = [o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] for c in cells for o in c["outputs"]
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]  # fmt: skip
    assert all(v in state.get("state", {}) for v in views), f"{name}: widgets saved without their state"
    assert len(views) == (name == "01-api-polling.ipynb"), f"{name}: {len(views)} widgets saved (a bar left?)"
    # a worked solution proves itself silently: after Run All nothing opens under the exercise
    solutions = [c for c in cells if c["metadata"].get("jupyter", {}).get("source_hidden")]
    assert not [c["source"][:60] for c in solutions if c["outputs"]], (
        f"{name}: a worked solution shows output"
    )
    # the rest (but the learner's answer cells, which only assign None) mostly show something
    answers = [c for c in cells if re.search(r"(?m)^answer\w*\s*=\s*None", c["source"])]
    shown = [c for c in cells if c not in solutions and c not in answers]
    assert sum(bool(c["outputs"]) for c in shown) > len(shown) // 2, f"{name}: most cells show nothing"
    assert off_machine == [], f"{name}: requests off this machine: {off_machine}"
