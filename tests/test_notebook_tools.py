"""Tests for hooklab.lab.notebook_tools helpers that need no kernel."""

from __future__ import annotations

from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from hooklab.lab.notebook_tools import WIDGET_VIEW, drop_widget_state

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_drop_widget_state_keeps_the_plain_text_of_a_widget_output():
    view = {WIDGET_VIEW: {"model_id": "3f2a", "version_major": 2}, "text/plain": "interactive(...)"}
    cell = new_code_cell("interact(f, x=1)", outputs=[new_output("display_data", data=view)])
    nb = new_notebook(cells=[cell], metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {}}})
    drop_widget_state(nb)
    assert "widgets" not in nb.metadata
    assert nb.cells[0].outputs[0]["data"] == {"text/plain": "interactive(...)"}


def test_api_page_is_generated_from_the_notebooks_and_current():
    from hooklab.lab.notebook_tools import API_PAGE, render_api

    assert API_PAGE.read_text() == render_api(NOTEBOOKS), "docs/api.md is stale: run `make index`"


def test_every_lab_name_is_introduced_by_a_notebook_and_every_used_name_exists():
    from hooklab import lab
    from hooklab.lab.notebook_tools import introductions

    first = introductions(NOTEBOOKS)
    assert sorted(set(lab.__all__) - set(first)) == []  # the surface holds nothing no notebook uses
    assert sorted(set(first) - set(lab.__all__)) == []  # and notebooks use nothing outside it
    assert (
        first["simulate"] == "00-index.ipynb"
        and first["verify_standard"] == "03-signature-verification.ipynb"
    )


def test_no_hand_written_introduced_in_tags_remain():
    package = Path(__file__).resolve().parents[1] / "pylib" / "hooklab"
    tagged = [p.name for p in package.rglob("*.py") if "Introduced in notebooks/" in p.read_text()]
    assert tagged == []


def test_lab_loads_names_on_first_use_and_every_name_resolves():
    import subprocess
    import sys

    probe = "import sys; from hooklab import lab; print(sorted(m for m in ('pandas', 'fastapi', 'matplotlib', 'httpx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # importing the surface costs nothing until a name is used
    from hooklab import lab

    assert all(getattr(lab, name) is not None for name in lab.__all__)
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        lab.not_a_name  # noqa: B018
