"""``make lab``: JupyterLab on the learner's own copies of the notebooks, and the URL to open, last.

A learner changes parameters and runs cells, and JupyterLab saves what they did. Into the
repository's ``notebooks/`` that would dirty ``git status`` and break ``make test``, so the learner
works on copies in ``my-notebooks/`` (git-ignored): made on first use, one per notebook, and new
notebooks are added as the series grows; ``make lab-reset NB=01-api-polling.ipynb`` puts a fresh
copy back (the old one is kept in ``my-notebooks/.backup/``). The originals stay for maintainers
(``make notebooks``, ``make test``).

    python -m hooklab.lab.launcher --port 8888 --copies my-notebooks [-- extra JupyterLab arguments]
    python -m hooklab.lab.launcher --copies my-notebooks --reset 01-api-polling.ipynb
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from hooklab.lab.notebook_tools import series

ROOT = Path(__file__).resolve().parents[3]
ORIGINALS = ROOT / "notebooks"
START_TIMEOUT_S = 90.0


def make_copies(copies: Path, originals: Path = ORIGINALS) -> list[str]:
    """Copy every notebook of the series that ``copies`` lacks; return the names copied."""
    copies.mkdir(parents=True, exist_ok=True)
    made = []
    for original in series(originals):
        target = copies / original.name
        if not target.exists():
            shutil.copy2(original, target)
            made.append(original.name)
    return made


def reset(copies: Path, names: list[str], originals: Path = ORIGINALS) -> list[str]:
    """Put fresh copies of ``names`` (all, if empty) back; the learner's versions go to ``.backup/``."""
    chosen = [p for p in series(originals) if not names or p.name in names]
    unknown = sorted(set(names) - {p.name for p in chosen})
    if unknown:
        raise SystemExit(
            f"no such notebook: {', '.join(unknown)}; the series is {[p.name for p in series(originals)]}"
        )
    backup = copies / ".backup"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for original in chosen:
        target = copies / original.name
        if target.exists():
            backup.mkdir(parents=True, exist_ok=True)
            target.rename(backup / f"{original.stem}.{stamp}.ipynb")
        shutil.copy2(original, target)
    return [p.name for p in chosen]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


#: JupyterLab's own calls home (its news feed, update checks) are off: the series makes no request
#: off this machine.
QUIET = ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]

#: Defaults for JupyterLab's settings (its ``overrides.json``): widget state is saved with the
#: notebook, so a saved slider reopens as a slider, not "model not found"; no news pop-up asking
#: to fetch news, and no update checks.
SETTINGS = Path(__file__).parent / "jupyterlab_settings"


def jupyter_command(port: int, root: Path, token: str, extra: list[str]) -> list[str]:
    """JupyterLab on 127.0.0.1:``port`` only (no silent move to the next port), serving ``root``."""
    allow_root = ["--allow-root"] if hasattr(os, "getuid") and os.getuid() == 0 else []
    return [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}", f"--LabApp.app_settings_dir={SETTINGS}", *QUIET, *allow_root,
        *extra,
    ]  # fmt: skip


def wait_until_up(port: int, token: str, proc: subprocess.Popen, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"JupyterLab stopped while starting (exit {proc.returncode}); see the log above")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"JupyterLab did not answer within {timeout_s:.0f} s")
        time.sleep(0.25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hooklab.lab.launcher", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--copies", type=Path, default=ROOT / "my-notebooks")
    parser.add_argument("--reset", nargs="*", metavar="NOTEBOOK", help="fresh copies of these (all if none)")
    parser.add_argument("extra", nargs="*", help="after --: more JupyterLab arguments")
    args = parser.parse_args(argv)
    copies = args.copies.resolve()
    if args.reset is not None:
        done = reset(copies, args.reset)
        print(f"fresh copies in {copies}: {', '.join(done)} (your old ones are in {copies / '.backup'})")
        return 0
    made = make_copies(copies)
    if made:
        print(f"made your own copies of {len(made)} notebook(s) in {copies} (git ignores them)")
    if not port_is_free(args.port):
        print(f"error: port {args.port} on 127.0.0.1 is in use (another JupyterLab?). Stop it, or pick "
              f"another port: make lab LAB_PORT={args.port + 2}", file=sys.stderr)  # fmt: skip
        return 1
    token = secrets.token_hex(24)
    log = ROOT / ".venv" / "jupyterlab.log"
    log.parent.mkdir(exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(jupyter_command(args.port, copies, token, args.extra), stdout=out, stderr=out)
        try:
            try:
                wait_until_up(args.port, token, proc)
            except SystemExit:
                print(log.read_text()[-3000:], file=sys.stderr)
                raise
            print(f"\nJupyterLab is running (its log: {log}). Open this address in your browser:\n\n"
                  f"    http://127.0.0.1:{args.port}/lab?token={token}\n\n"
                  f"Your copies are in {copies}; `make lab-reset NB=<name>.ipynb` gives you a fresh one. "
                  "Stop with Ctrl+C.", flush=True)  # fmt: skip
            return proc.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    sys.exit(main())
