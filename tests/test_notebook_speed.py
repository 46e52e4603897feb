"""The notebooks at the largest values their comments invite still run, in a temporary copy; each
cell's time is printed (``pytest -s``) for the record. A benchmark, not a timed assertion: the
targets are reported by benchmarks/bench_notebooks.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

from hooklab.lab.notebook_tools import timed_run

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bench_notebooks", ROOT / "benchmarks" / "bench_notebooks.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["01-api-polling.ipynb", "04-pull-vs-push.ipynb"])
def test_invited_values_run(name):
    # timed_run refuses an edit that no longer matches the notebook: the table follows the comments
    total, cells = timed_run(ROOT / "notebooks" / name, bench.INVITED[name])
    print(f"\n{name} at its largest invited values: {total:.1f} s")
    for index, seconds, first in cells:
        if seconds >= 0.05:
            print(f"  cell {index:3d} {seconds:6.2f} s  {first[:70]}")
    code_cells = [c for c in nbformat.read(ROOT / "notebooks" / name, 4).cells if c.cell_type == "code"]
    assert len(cells) == len(code_cells)  # every code cell ran to its end (an error would have raised)


def test_every_invitation_names_a_parameter_the_notebook_has():
    for name, edits in bench.INVITED.items():
        cells = [c.source for c in nbformat.read(ROOT / "notebooks" / name, 4).cells if c.cell_type == "code"]
        for old, new in edits:
            assert any(old in cell for cell in cells), (
                f"{name}: {old!r} is gone; update benchmarks/bench_notebooks.py"
            )
            assert old != new
