"""The ``hooklab`` command line: help, argument errors, and the provider/consumer processes."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from hooklab.cli import build_parser, format_table, main

HOOKLAB = [sys.executable, "-m", "hooklab.cli"]


@pytest.mark.parametrize("command", ["provider", "consumer", "demo", "simulate", "chaos"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "usage: hooklab " + command in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["demo", "--interval", "0"], "must be > 0"),
        (["demo", "--payments", "0"], "must be >= 1"),
        (["consumer", "--mode", "poll"], "--provider"),
        (["consumer", "--provider", "http://127.0.0.1:1", "--mode", "push"], "invalid choice"),
        (["provider", "--failure-share", "2"], "between 0 and 1"),
    ],
)
def test_bad_arguments_say_what_is_wrong(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert words in capsys.readouterr().err


def test_format_table_aligns_columns():
    table = format_table({"poll": {"a": 1, "b": 0.5}, "webhook": {"a": 2, "b": None}}, ["a", "b"])
    lines = table.splitlines()
    assert len(lines) == 3 and len({len(line) for line in lines}) == 1
    assert lines[2].endswith("-") and "0.500" in lines[2]


@pytest.mark.parametrize("command", [[], ["provider"], ["consumer"], ["demo"], ["simulate"]])
def test_help_imports_no_heavy_library(command):
    """``hooklab --help`` answers quickly: nothing big is imported until a command runs."""
    probe = (
        "import sys\nfrom hooklab.cli import main\ntry:\n    main(sys.argv[1:] + ['--help'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('pandas', 'numpy', 'matplotlib', 'httpx', 'fastapi', 'uvicorn') "
        "if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, check=True)
    assert "usage: hooklab" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_parser_knows_all_commands():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) == {"provider", "consumer", "worker", "demo", "simulate", "chaos"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


@pytest.mark.slow
def test_provider_and_consumer_processes_work_together():
    """The two systems as separate processes, as a learner runs them in two terminals."""
    b_port, a_port = _free_port(), _free_port()
    b = subprocess.Popen([*HOOKLAB, "provider", "--port", str(b_port), "--settle-mean", "0.3"],
                         stderr=subprocess.PIPE, text=True)  # fmt: skip
    a = None
    try:
        _wait_for(f"http://127.0.0.1:{b_port}/health", b)
        a = subprocess.Popen(
            [*HOOKLAB, "consumer", "--provider", f"http://127.0.0.1:{b_port}", "--mode", "webhook",
             "--port", str(a_port)],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        _wait_for(f"http://127.0.0.1:{a_port}/health", a)
        created = httpx.post(f"http://127.0.0.1:{a_port}/orders", json={"amount": 1999, "currency": "eur"})
        assert created.status_code == 201
        pid = created.json()["id"]
        deadline = time.monotonic() + 20
        while httpx.get(f"http://127.0.0.1:{a_port}/payments/{pid}").json()["status"] == "pending":
            assert time.monotonic() < deadline, "A never heard of the settlement"
            time.sleep(0.1)
        at_b = httpx.get(f"http://127.0.0.1:{b_port}/payments/{pid}").json()
        assert httpx.get(f"http://127.0.0.1:{a_port}/payments/{pid}").json() == at_b
    finally:
        for proc in (a, b):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)


@pytest.mark.slow
def test_a_restarted_with_its_db_does_not_register_twice(tmp_path):
    b_port, a_port = _free_port(), _free_port()
    db = str(tmp_path / "shop.db")
    consumer = [*HOOKLAB, "consumer", "--provider", f"http://127.0.0.1:{b_port}", "--mode", "webhook",
                "--port", str(a_port), "--db", db]  # fmt: skip
    b = subprocess.Popen([*HOOKLAB, "provider", "--port", str(b_port)], stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(f"http://127.0.0.1:{b_port}/health", b)
        for _ in range(2):  # start A, stop it, start it again on the same file
            a = subprocess.Popen(consumer, stderr=subprocess.PIPE, text=True)
            try:
                _wait_for(f"http://127.0.0.1:{a_port}/health", a)
            finally:
                a.terminate()
                a.wait(timeout=10)
        endpoints = httpx.get(f"http://127.0.0.1:{b_port}/webhook-endpoints").json()["data"]
        assert [e["url"] for e in endpoints] == [f"http://127.0.0.1:{a_port}/webhooks/payments"]
        assert "secret" not in endpoints[0]  # shown once, at registration
    finally:
        b.terminate()
        b.wait(timeout=10)


@pytest.mark.slow
def test_consumer_without_provider_says_what_to_do():
    """Webhook mode needs B to register with: a plain error and exit 1, not a startup traceback."""
    dead = f"http://127.0.0.1:{_free_port()}"
    done = subprocess.run(
        [*HOOKLAB, "consumer", "--provider", dead, "--mode", "webhook", "--port", str(_free_port())],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 1
    assert "hooklab provider" in done.stderr and "Traceback" not in done.stderr


def test_order_while_provider_is_down_is_502_with_advice():
    from hooklab.live.serving import serve
    from hooklab.live.shop_app import ShopService

    service = ShopService(f"http://127.0.0.1:{_free_port()}", mode="poll", timeout_s=1.0)
    try:
        with serve(service.app) as a:
            response = httpx.post(f"{a.url}/orders", json={"amount": 1999, "currency": "eur"})
        assert response.status_code == 502
        error = response.json()["error"]
        assert error["code"] == "provider_unavailable" and "hooklab provider" in error["message"]
        assert service.snapshot() == {}
    finally:
        service.close()


def test_every_mode_is_in_one_table_that_every_list_reads():
    from hooklab.core import modes
    from hooklab.live import pullers, shop_app
    from hooklab.measure import summary
    from hooklab.sim import choices, vector

    assert shop_app.MODES == modes.SHOP_MODES and choices.MODES == modes.SIM_MODES
    assert vector.MODES == modes.VECTOR_MODES and summary.MODE_KINDS == modes.MODE_KINDS
    assert set(pullers.LOOPS) == set(modes.PULL_LOOP_MODES)
    consumer = next(a for a in build_parser("consumer")._subparsers._group_actions[0].choices["consumer"]._actions
                    if a.dest == "mode")  # fmt: skip
    assert tuple(consumer.choices) == modes.SHOP_MODES


@pytest.mark.parametrize(
    "mode", ["poll", "webhook", "hybrid", "feed", "conditional", "long-poll", "sse", "adaptive"]
)
def test_hooklab_simulate_runs_every_mode(mode, capsys):
    """Each mode the CLI offers runs and says what it did (sse and long-poll used to be a KeyError)."""
    assert main(["simulate", "--mode", mode, "--records", "2", "--duration", "600"]) == 0
    assert mode in capsys.readouterr().out


def test_waiting_for_a_started_process_says_when_it_died_or_never_answered(tmp_path):
    import sys

    from hooklab.live.processes import wait_started

    log = tmp_path / "child.log"
    with log.open("w") as out:
        dead = subprocess.Popen(
            [sys.executable, "-c", "print('no port for me'); raise SystemExit(3)"], stdout=out
        )
    with pytest.raises(RuntimeError, match="exited with 3: no port for me"):
        wait_started(dead, lambda: False, "the child", log)
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(TimeoutError, match="did not answer within 0.2 s"):
            wait_started(idle, lambda: False, "the child", log, timeout_s=0.2)
        wait_started(idle, lambda: True, "the child", log)  # ready at once: no wait
    finally:
        idle.kill()
        idle.wait()
