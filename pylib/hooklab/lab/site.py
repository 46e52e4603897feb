"""The series as a static website, from the notebooks' stored outputs: read without running.

    python -m hooklab.lab.site [OUT]      # make site: OUT defaults to _site/

One HTML page per notebook (nbconvert's ``lab`` page, through :file:`site_template`), with a bar
of links to the index and to the previous and next notebook; the index page is ``00-index``, whose
map lists every notebook with its learning goals. Figures are embedded in the pages; nothing is
fetched from another machine (no script from a CDN), so the site reads offline. Links between
notebooks point at their pages. A worked solution stays folded (an HTML ``<details>``), as it is in
JupyterLab: the answer is one click away, not in view.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat

from hooklab.lab.notebook_tools import INDEX_NAME, header_of, series

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = Path(__file__).parent / "site_template"
#: A link from one notebook to another (``02-webhooks.ipynb``, ``05-reliability.ipynb#section``).
NOTEBOOK_LINK = re.compile(r'href="(\d\d-[\w-]+)\.ipynb(#[^"]*)?"')


def page_name(path: Path) -> str:
    return "index.html" if path.name == INDEX_NAME else f"{path.stem}.html"


def _fold_solutions(nb) -> None:
    """A worked solution (a code cell with hidden source) becomes a folded ``<details>``."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.metadata.get("jupyter", {}).get("source_hidden"):
            folded = (
                '<details class="solution"><summary>Worked solution: open it after your own attempt'
                f"</summary><pre><code>{html.escape(cell.source)}</code></pre></details>"
            )
            nb.cells[i] = nbformat.v4.new_raw_cell(folded, metadata={"raw_mimetype": "text/html"})


def build(out: Path, folder: Path = ROOT / "notebooks") -> list[Path]:
    """Write the site into ``out`` (emptied first); the pages written."""
    from nbconvert import HTMLExporter

    paths = series(folder)
    titles = {p: "{number} · {title}".format(**header_of(p)) for p in paths}
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    exporter = HTMLExporter(
        template_name=str(TEMPLATE), exclude_input_prompt=True, exclude_output_prompt=True
    )
    written = []
    for k, path in enumerate(paths):
        nb = nbformat.read(path, as_version=4)
        nb.metadata.pop("widgets", None)  # no widget scripts: a saved widget shows its text
        nb.metadata["title"] = titles[path]
        _fold_solutions(nb)
        neighbours = {
            "previous": (page_name(paths[k - 1]), titles[paths[k - 1]]) if k > 0 else None,
            "next": (page_name(paths[k + 1]), titles[paths[k + 1]]) if k + 1 < len(paths) else None,
        }
        body, _ = exporter.from_notebook_node(
            nb, resources={"hooklab": neighbours, "raw_mimetypes": ["text/html"]}
        )
        body = NOTEBOOK_LINK.sub(
            lambda m: f'href="{page_name(folder / (m.group(1) + ".ipynb"))}{m.group(2) or ""}"', body
        )
        page = out / page_name(path)
        page.write_text(body, encoding="utf-8")
        written.append(page)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hooklab.lab.site", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?", default=ROOT / "_site")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    pages = build(args.out)
    print(
        f"{len(pages)} pages in {args.out} in {time.perf_counter() - started:.1f} s; open {args.out / 'index.html'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
