"""Docs that cannot drift: what the pages say of the code is generated from it or checked here."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
from pathlib import Path

import pytest

from hooklab.lab import architecture_doc

ROOT = Path(__file__).resolve().parents[1]


def test_architecture_tables_are_generated_from_the_code():
    page = architecture_doc.PAGE.read_text()
    assert page == architecture_doc.render(page), "docs/architecture.md is stale: run `make index`"


def test_every_module_has_a_docstring_for_its_row():
    missing = [p for p in architecture_doc.PACKAGE.rglob("*.py") if not architecture_doc.first_paragraph(p)]
    assert not missing


def test_no_page_of_the_project_points_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    outside = [name for name in tracked.split()
               if name.endswith((".md", ".py", ".ipynb", ".toml", ".cfg")) and "../shared" in (ROOT / name).read_text()
               and name != "tests/test_docs.py"]  # fmt: skip
    assert not outside


def test_every_strategy_and_workload_class_is_importable_from_hooklab_sim():
    sim = importlib.import_module("hooklab.sim")
    for module in ("strategies", "workloads"):
        tree = ast.parse((architecture_doc.PACKAGE / "sim" / f"{module}.py").read_text())
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name not in ("Arrivals", "Plan", "ChangeWorkload"):
                assert getattr(sim, node.name).__name__ == node.name


def test_strategies_and_workloads_use_only_the_documented_interface_of_sim():
    doc = importlib.import_module("hooklab.sim.world").__doc__
    listed = set(re.findall(r"(?:Sim\.|``)(\w+)", doc.split("Where the network")[0]))
    used = set()
    for module in ("strategies", "workloads"):
        used |= set(
            re.findall(r"\bsim\.(\w+)", (architecture_doc.PACKAGE / "sim" / f"{module}.py").read_text())
        )
    used -= {"world"}  # the module's own name in a comment ("sim.world: where delays come from")
    assert used <= listed, f"used but not documented in sim/world.py: {sorted(used - listed)}"


@pytest.mark.parametrize("marker", ["# NBVAL_IGNORE_OUTPUT"])
def test_the_readme_gives_nbvals_marker_as_nbval_reads_it(marker):
    readme = (ROOT / "README.md").read_text()
    assert f"`{marker}` alone" in readme and f"{marker}:" not in readme
