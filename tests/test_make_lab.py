"""`make lab` really serves JupyterLab on 127.0.0.1 (and nowhere else)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.slow
def test_make_lab_answers_on_loopback():
    port = _free_port()
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"LAB_PORT={port}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "JUPYTER_RUNTIME_DIR": str(ROOT / ".venv" / "jupyter-runtime-test")},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "JupyterLab did not answer within 60 s"
                time.sleep(0.25)
        assert response.status_code == 200 and "version" in response.json()
        lab = httpx.get(f"http://127.0.0.1:{port}/lab", timeout=5)
        assert lab.status_code in (200, 302)  # 302: to the token login page
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
