"""Keep the notebook series honest: re-execute it in place, and generate the index.

    python -m hooklab.lab.notebook_tools execute notebooks     # make notebooks
    python -m hooklab.lab.notebook_tools index notebooks       # make index
    python -m hooklab.lab.notebook_tools check-index notebooks # exit 1 if 00-index is stale

The index (the map in ``00-index.ipynb``) is generated from each notebook's own first cell
(title and learning goals), between two marker comments, so it can never drift from the series.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat

INDEX_NAME = "00-index.ipynb"
BEGIN = "<!-- BEGIN GENERATED MAP (make index) -->"
END = "<!-- END GENERATED MAP -->"
TITLE_RE = re.compile(r"^#\s+(\d\d)\s+·\s+(.+)$", re.MULTILINE)
#: Per-cell execution limit when regenerating outputs; the whole series runs in well under a minute.
CELL_TIMEOUT_S = 300


def series(folder: Path) -> list[Path]:
    """The numbered notebooks, in order (``NN-kebab-title.ipynb``)."""
    return sorted(p for p in folder.glob("[0-9][0-9]-*.ipynb") if not p.name.startswith("."))


def header_of(path: Path) -> dict:
    """Number, title, learning goals and time to read, from a notebook's first cell."""
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0].source if nb.cells else ""
    match = TITLE_RE.search(first)
    if not match:
        raise ValueError(f"{path.name}: the first cell must start with '# NN · Title'")
    goals = []
    in_goals = False
    for line in first.splitlines():
        if line.strip().lower().startswith("**learning goals"):
            in_goals = True
            continue
        if in_goals:
            if line.lstrip().startswith(("-", "*")) and not line.strip().startswith("**"):
                goals.append(line.strip()[1:].strip())
            elif line.strip():
                in_goals = False
    minutes = re.search(r"\*\*Time to read[^*]*\*\*:?\s*(.+)", first)
    return {
        "number": match.group(1),
        "title": match.group(2).strip(),
        "file": path.name,
        "goals": goals,
        "time": minutes.group(1).strip() if minutes else "",
    }


def render_map(folder: Path) -> str:
    """The generated markdown table of the series."""
    rows = [
        "| # | notebook | you leave knowing | time |",
        "|---|---|---|---|",
    ]
    for path in series(folder):
        if path.name == INDEX_NAME:
            continue
        h = header_of(path)
        goals = "<br>".join(h["goals"]) or "(no learning goals listed)"
        rows.append(f"| {h['number']} | [{h['title']}]({h['file']}) | {goals} | {h['time']} |")
    return "\n".join([BEGIN, *rows, END])


def _map_cell(nb) -> int:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and BEGIN in cell.source:
            return i
    raise ValueError(f"{INDEX_NAME} needs a markdown cell containing {BEGIN!r}")


def update_index(folder: Path) -> bool:
    """Rewrite the generated map in the index; return whether anything changed."""
    path = folder / INDEX_NAME
    nb = nbformat.read(path, as_version=4)
    i = _map_cell(nb)
    source = nb.cells[i].source
    new = source[: source.index(BEGIN)] + render_map(folder) + source[source.index(END) + len(END) :]
    if new == source:
        return False
    nb.cells[i].source = new
    nbformat.write(nb, path)
    return True


def index_is_current(folder: Path) -> bool:
    nb = nbformat.read(folder / INDEX_NAME, as_version=4)
    source = nb.cells[_map_cell(nb)].source
    return render_map(folder) in source


#: Output type of a live ipywidgets view: it names a model by a random id, which no saved file can serve.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def drop_widget_state(nb) -> None:
    """Remove what ipywidgets leave in an executed notebook: the saved widget models (notebook
    metadata) and the views that point at them (random model ids, so every run would be a diff).

    A widget cell keeps its plain-text output; running the cell in JupyterLab shows the live
    widget. Used for the optional slider of notebooks/01-api-polling.ipynb.
    """
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)


def execute(path: Path) -> float:
    """Run a notebook top to bottom in a fresh kernel (cwd = its folder) and save its outputs."""
    from jupyter_client import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    # a local socket file, not TCP: nothing listens on the network, and ipykernel stays quiet
    kernel = KernelManager(
        kernel_name="python3", transport="ipc", ip=str(Path(tempfile.mkdtemp()) / "kernel")
    )
    try:
        NotebookClient(
            nb, km=kernel, timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(path.parent)}}
        ).execute()
    finally:
        if kernel.has_kernel:
            kernel.shutdown_kernel()
    for cell in nb.cells:  # wall-clock execution stamps would make every run a diff
        cell.metadata.pop("execution", None)
    drop_widget_state(nb)
    nbformat.write(nb, path)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hooklab.lab.notebook_tools")
    parser.add_argument("command", choices=("execute", "index", "check-index"))
    parser.add_argument("folder", type=Path, nargs="?", default=Path("notebooks"))
    parser.add_argument("only", nargs="*", help="notebook file names to execute (default: all)")
    args = parser.parse_args(argv)
    if args.command == "index":
        changed = update_index(args.folder)
        print(f"{INDEX_NAME}: {'updated' if changed else 'already current'}")
        return 0
    if args.command == "check-index":
        if index_is_current(args.folder):
            return 0
        print(f"{INDEX_NAME} is stale: run `make index`", file=sys.stderr)
        return 1
    paths = [p for p in series(args.folder) if not args.only or p.name in args.only]
    total = 0.0
    for path in paths:
        print(f"executing {path.name} ...", end=" ", flush=True)
        seconds = execute(path)
        total += seconds
        print(f"{seconds:.1f} s")
    print(f"{len(paths)} notebook(s) in {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
