"""The layers hold: import-linter passes on the package and fails on a backward import.

``make lint`` runs ``lint-imports`` with the contracts in pyproject.toml (lab -> live | sim ->
measure -> core; core standard library only). Here it also runs on a copy of the package with one
backward import added, to show the contracts can fail.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = str(Path(sys.executable).with_name("lint-imports"))


def lint(pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([LINT, "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True)


def test_the_package_keeps_its_layers():
    done = lint()
    assert done.returncode == 0, done.stdout
    assert "2 kept, 0 broken" in done.stdout


def test_a_backward_import_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "pylib" / "hooklab", tmp_path / "hooklab")
    contract = tmp_path / "hooklab" / "core" / "contract.py"
    contract.write_text(contract.read_text() + "\nfrom hooklab.live import store  # a backward import\n")
    done = lint(tmp_path)
    assert done.returncode != 0
    assert "hooklab.core is not allowed to import hooklab.live" in done.stdout
    assert "hooklab.core.contract -> hooklab.live" in done.stdout


def test_core_reads_no_clock_but_the_signing_default():
    """No core module calls time.time()/monotonic()/sleep, but signing's documented now=None default."""
    offenders = []
    for path in (ROOT / "pylib" / "hooklab" / "core").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "time"
            ):
                offenders.append(f"{path.name}: time.{node.attr}")
    assert offenders == ["signing.py: time.time"]
