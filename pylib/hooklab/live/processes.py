"""Real processes of the two systems, for crash tests: start one, wait for it, kill it by its id.

``hooklab provider`` and ``hooklab consumer`` run as children of this process (the same Python),
so a test or a chaos run can SIGKILL System A mid-write and start it again on the same SQLite file.
Only processes started here are ever signalled, by their own pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

#: ``hooklab`` as this interpreter runs it.
HOOKLAB = [sys.executable, "-m", "hooklab.cli"]
START_TIMEOUT_S = 20.0


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Child:
    """One started ``hooklab`` process: its ``url``, its ``proc`` and where its output goes."""

    url: str
    proc: subprocess.Popen
    log: Path

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not end within 5 s."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()


def spawn(args: list[str], log: Path) -> Child:
    """Run ``hooklab <args>``, a process that serves nothing (``hooklab worker``): no port to wait on."""
    out = log.open("ab")
    proc = subprocess.Popen([*HOOKLAB, *args], stdout=out, stderr=out)
    out.close()
    return Child("", proc, log)


def start(args: list[str], port: int, log: Path, *, env: dict | None = None) -> Child:
    """Run ``hooklab <args> --port <port>`` and wait until its ``GET /health`` answers."""
    out = log.open("ab")
    proc = subprocess.Popen([*HOOKLAB, *args, "--port", str(port), "--log-level", "warning"],
                            stdout=out, stderr=out, env={**os.environ, **(env or {})})  # fmt: skip
    out.close()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_started(proc, lambda: _answers(url + "/health"), f"hooklab {args[0]} on {url}", log)
    except TimeoutError:
        Child(url, proc, log).kill()
        raise
    return Child(url, proc, log)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.TransportError:
        return False


def wait_started(proc: subprocess.Popen, ready: Callable[[], bool], what: str, log: Path,
                 timeout_s: float = START_TIMEOUT_S) -> None:  # fmt: skip
    """Wait until a process started here is ``ready()`` (asked every 50 ms). ``RuntimeError`` with
    the end of its ``log`` if it exits first; ``TimeoutError`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if proc.poll() is not None:
            raise RuntimeError(
                f"{what} exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not answer within {timeout_s:g} s")
        time.sleep(0.05)
