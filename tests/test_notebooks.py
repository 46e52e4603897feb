"""Notebook hygiene: the conventions of shared/DESIGN.md, checked on every notebook.

nbval (run by ``make test``) re-executes the notebooks and compares outputs; this file checks
what nbval cannot: structure, clean stored outputs, a current index.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from hooklab.lab.notebook_tools import TITLE_RE, index_is_current, series

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = series(NOTEBOOKS)
# What must never be in a stored output: machine-specific paths and object addresses.
LEAKS = re.compile(r"(/work/|/tmp/|/home/|/root/|/Users/|object at 0x[0-9a-f]+)")


def _load(path: Path):
    return nbformat.read(path, as_version=4)


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _text_of(output) -> str:
    if output.get("output_type") == "stream":
        return output.get("text", "")
    data = output.get("data", {})
    return "".join(str(data.get(k, "")) for k in ("text/plain", "text/html", "text/markdown"))


def test_the_series_exists():
    names = [p.name for p in PATHS]
    assert names[0] == "00-index.ipynb", names
    assert len(names) >= 2, names


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_skeleton(path):
    nb = _load(path)
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    match = TITLE_RE.search(first.source)
    assert match and first.source.startswith("# "), "first cell must start with '# NN · Title'"
    assert match.group(1) == path.name[:2], "the title's number must match the file name"
    if path.name == "00-index.ipynb":
        return
    for part in ("Learning goals", "Prerequisites", "Time to read"):
        assert part in first.source, f"first cell lacks '{part}'"
    headings = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"^##\s+Summary", headings, re.M), "needs a '## Summary' section"
    assert re.search(r"^##\s+Exercises", headings, re.M), "needs a '## Exercises' section"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_sources_follow_conventions(path):
    for cell in _code(_load(path)):
        src = cell.source
        assert "sys.path" not in src, "import the installed package; no sys.path edits"
        assert not re.search(r"^\s*%run\b", src, re.M), "no %run of other notebooks"
        if "NBVAL_IGNORE_OUTPUT" in src:
            lines = [ln.strip() for ln in src.splitlines()]
            # nbval honours only the bare marker; the reason goes on the next line
            assert "# NBVAL_IGNORE_OUTPUT" in lines, "write the marker alone: '# NBVAL_IGNORE_OUTPUT'"
            reason = lines[lines.index("# NBVAL_IGNORE_OUTPUT") + 1 :][:1]
            assert reason and reason[0].startswith("# Why:") and len(reason[0]) > 16, (
                "say why the output is ignored on the next line: '# Why: wall-clock latency ...'"
            )
        if re.search(r"\bplt\.(plot|subplots|figure)\b|plotting\.", src) and "plt.show()" not in src:
            # a figure left for Jupyter to display also prints '<Figure ...>', which nbval compares
            assert not re.search(r"plt\.(plot|subplots|figure)\(", src), "end plot cells with plt.show()"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_stored_outputs_are_clean_and_complete(path):
    cells = _code(_load(path))
    counts = [c.execution_count for c in cells]
    assert all(n is not None for n in counts), "every code cell has been run: `make notebooks`"
    assert counts == list(range(1, len(cells) + 1)), (
        "outputs come from one top-to-bottom run: `make notebooks`"
    )
    for cell in cells:
        for output in cell.outputs:
            assert output.get("output_type") != "error", f"stored error in cell:\n{cell.source[:200]}"
            text = _text_of(output)
            assert not LEAKS.search(text), (
                f"machine-specific text in an output: {LEAKS.search(text).group(0)}"
            )
            if output.get("name") == "stderr":
                assert "Warning" not in text, f"a warning is stored in an output: {text[:300]}"


def test_index_is_current():
    assert index_is_current(NOTEBOOKS), "notebooks/00-index.ipynb is stale: run `make index`"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_relative_links_lead_somewhere(path):
    for cell in _load(path).cells:
        if cell.cell_type != "markdown":
            continue
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", cell.source):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


def test_readme_lists_every_notebook():
    readme = (NOTEBOOKS.parent / "README.md").read_text()
    missing = [p.name for p in PATHS if f"notebooks/{p.name}" not in readme]
    assert not missing, f"add these to the README's notebook table: {missing}"


def _exercise_cells(nb):
    heading = next(
        i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Exercises" in c.source
    )
    return [c for c in nb.cells[heading:] if c.cell_type == "code"]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_exercises_come_unanswered_with_a_guiding_check_and_a_collapsed_solution(path):
    """Answer cell (placeholder None), self-check, collapsed worked solution: no answer pre-filled."""
    cells = _exercise_cells(_load(path))
    hidden = [c for c in cells if c.metadata.get("jupyter", {}).get("source_hidden")]
    checks = [c for c in cells if "lab.self_check(" in c.source or "lab.check_answer(" in c.source]
    assert hidden and len(hidden) == len(checks), "each exercise needs one self-check and one worked solution"
    for solution in hidden:
        assert "lab.solved(" in solution.source or "lab.worked_solution(" in solution.source, (
            "a worked solution proves itself with lab.solved or lab.worked_solution"
        )
        # collapsed, its first line and its output hidden too: neither may give the answer away
        assert solution.metadata["jupyter"].get("outputs_hidden") is True
        assert solution.source.startswith("# Worked solution: open it after your own attempt")
    for check in checks:  # the stored notebook was run unanswered: every check says so
        assert "Not answered yet" in "".join(_text_of(o) for o in check.outputs), check.source[:80]
    answers = [c for c in cells if c not in hidden and c not in checks]
    for cell in answers:
        names = re.findall(r"(?m)^(answer\w*|header_3)\s*=\s*(.+?)\s*(?:#.*)?$", cell.source)
        assert names, f"an answer cell should assign the learner's answer: {cell.source[:80]}"
        assert all(value == "None" for _, value in names), f"pre-filled answer: {names}"
