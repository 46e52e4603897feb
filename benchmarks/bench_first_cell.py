"""How long does each notebook's first code cell take in a fresh kernel? (The lazy-imports issue:
at most 1.5 s on a warm machine.) Each notebook's first code cell runs alone in a new kernel, three
times; the first run warms the file cache, the figure is the median of the other two, from the
kernel's own timestamps. Prints figures; asserts nothing.

    python benchmarks/bench_first_cell.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

import nbformat

from hooklab.lab.notebook_tools import series, timed_run

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TARGET_S = 1.5


def first_cell_seconds(path: Path, runs: int = 3) -> list[float]:
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    alone = nbformat.v4.new_notebook(cells=[first], metadata=nb.metadata)
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / path.name
        nbformat.write(alone, copy)
        return [timed_run(copy)[1][0][1] for _ in range(runs)]


def main() -> int:
    print(f"{'notebook':36} first cell, warm (s)   all runs")
    worst = 0.0
    for path in series(NOTEBOOKS):
        seconds = first_cell_seconds(path)
        warm = statistics.median(seconds[1:])
        worst = max(worst, warm)
        print(f"{path.name:36} {warm:8.2f}              {', '.join(f'{s:.2f}' for s in seconds)}")
    print(f"slowest first cell, warm: {worst:.2f} s (target: at most {TARGET_S} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
