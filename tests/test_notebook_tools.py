"""Tests for hooklab.lab.notebook_tools helpers that need no kernel."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_notebook, new_output

from hooklab.lab.notebook_tools import WIDGET_VIEW, drop_widget_state


def test_drop_widget_state_keeps_the_plain_text_of_a_widget_output():
    view = {WIDGET_VIEW: {"model_id": "3f2a", "version_major": 2}, "text/plain": "interactive(...)"}
    cell = new_code_cell("interact(f, x=1)", outputs=[new_output("display_data", data=view)])
    nb = new_notebook(cells=[cell], metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {}}})
    drop_widget_state(nb)
    assert "widgets" not in nb.metadata
    assert nb.cells[0].outputs[0]["data"] == {"text/plain": "interactive(...)"}
