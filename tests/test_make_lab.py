"""`make lab` serves JupyterLab on 127.0.0.1 on the learner's own copies, and prints the URL last."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from hooklab.lab.launcher import make_copies, reset

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout


@pytest.mark.slow
def test_make_lab_prints_its_url_and_a_learners_edits_leave_the_repository_clean(tmp_path):
    before = _git_status()
    copies = tmp_path / "my-notebooks"
    port = _free_port()
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"LAB_PORT={port}", f"LEARNER_DIR={copies}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")},
    )  # fmt: skip
    try:
        url, lines, deadline = None, [], time.monotonic() + 120
        while url is None:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "".join(lines)
            lines.append(line)
            match = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=\w+", line)
            url = match.group(0) if match else None
            assert time.monotonic() < deadline, "".join(lines)
        token = url.rsplit("=", 1)[1]
        assert httpx.get(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=5).status_code == 200
        assert (
            httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=5).status_code == 403
        )  # the token is needed
        # a learner edits a parameter and JupyterLab saves the notebook: into the copy, not notebooks/
        contents = f"http://127.0.0.1:{port}/api/contents/01-api-polling.ipynb?token={token}"
        model = httpx.get(contents, timeout=10).json()
        model["content"]["cells"][0]["source"] = "# my experiment"
        saved = httpx.put(
            contents, json={"type": "notebook", "format": "json", "content": model["content"]}, timeout=10
        )
        assert saved.status_code == 200
        assert (
            "".join(json.loads((copies / "01-api-polling.ipynb").read_text())["cells"][0]["source"])
            == "# my experiment"
        )
        assert _git_status() == before
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def test_copies_are_made_once_and_a_reset_keeps_the_old_one(tmp_path):
    copies = tmp_path / "mine"
    made = make_copies(copies)
    assert "01-api-polling.ipynb" in made and made[0] == "00-index.ipynb"
    (copies / "01-api-polling.ipynb").write_text("{}")  # the learner's version
    assert make_copies(copies) == []  # nothing overwritten
    assert reset(copies, ["01-api-polling.ipynb"]) == ["01-api-polling.ipynb"]
    assert (copies / "01-api-polling.ipynb").read_text() == (
        ROOT / "notebooks" / "01-api-polling.ipynb"
    ).read_text()
    (kept,) = (copies / ".backup").iterdir()
    assert kept.read_text() == "{}"
    with pytest.raises(SystemExit, match="no such notebook"):
        reset(copies, ["99-nope.ipynb"])


def test_a_port_in_use_is_said_plainly(tmp_path, capsys):
    from hooklab.lab.launcher import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code = main(["--port", str(busy.getsockname()[1]), "--copies", str(tmp_path / "c")])
    assert code == 1 and "is in use" in capsys.readouterr().err
