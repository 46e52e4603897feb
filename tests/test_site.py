"""The series as a website (make site): built from the stored notebooks, every page opened in
Chromium, served from 127.0.0.1: no console error, no broken link, no request off this machine."""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
from starlette.applications import Starlette
from starlette.staticfiles import StaticFiles
from test_browser_notebooks import BROWSER_ARGS  # noqa: I001 (the tests folder is on sys.path)
from test_openapi_docs import CHROMIUM

from hooklab.lab import site
from hooklab.lab.notebook_tools import series
from hooklab.live.serving import serve

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    started = time.perf_counter()
    pages = site.build(out)
    return out, pages, time.perf_counter() - started


def test_every_notebook_has_a_page_and_solutions_stay_folded(built):
    out, pages, seconds = built
    assert [p.name for p in pages] == [site.page_name(p) for p in series(NOTEBOOKS)]
    assert seconds < 60  # the bound; a few seconds here
    page = (out / "05-reliability.html").read_text()
    assert page.count('<details class="solution">') == 3  # the three exercises' worked solutions
    assert "<script" not in page and "cdnjs" not in page  # nothing to fetch: the page reads offline
    assert (
        'href="06-smarter-polling.html"' in page and 'href="04-pull-vs-push.html"' in page
    )  # next, previous
    assert ".ipynb" not in "".join(href for href in page.split('href="')[1:] if href.startswith("0"))
    index = (out / "index.html").read_text()
    assert "Learning goals" in index or "you leave knowing" in index
    assert 'href="01-api-polling.html"' in index
    assert "data:image/png;base64" in (out / "01-api-polling.html").read_text()  # the figures


@pytest.mark.slow
@pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("HOOKLAB_REQUIRE_BROWSER"),
    reason="needs Debian's chromium (.ci/run installs it, and there a missing browser fails)",
)
def test_every_page_opens_without_errors_broken_links_or_requests_off_the_machine(built):
    from playwright.sync_api import sync_playwright

    out, pages, _ = built
    app = Starlette()
    app.mount("/", StaticFiles(directory=out, html=True))
    with serve(app) as running, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        problems: list[str] = []
        try:
            for path in pages:
                page = browser.new_page()
                page.on(
                    "console",
                    lambda m, p=path: problems.append(f"{p.name}: {m.text}") if m.type == "error" else None,
                )
                page.on("pageerror", lambda e, p=path: problems.append(f"{p.name}: {e}"))
                page.on("request", lambda r, p=path: None if r.url.startswith((running.url, "data:"))
                        else problems.append(f"{p.name}: request off the machine {r.url}"))  # fmt: skip
                url = f"{running.url}/{path.name}"
                assert page.goto(url).status == 200
                page.wait_for_load_state("load")
                for href in page.eval_on_selector_all(
                    "a[href]", "els => els.map(e => e.getAttribute('href'))"
                ):
                    target = urlparse(urljoin(url, href))
                    if (
                        target.scheme in ("http", "https")
                        and not href.startswith(running.url)
                        and "://" in href
                    ):
                        continue  # a link out (a source), followed only by a reader who clicks it
                    if target.path and target.path != "/" + path.name:
                        local = out / target.path.lstrip("/")
                        if not local.is_file():
                            problems.append(f"{path.name}: broken link {href}")
                    same_page = target.path in ("", "/" + path.name)
                    ids = {target.fragment, unquote(target.fragment)}  # nbconvert's ids keep the escapes
                    if (
                        target.fragment
                        and same_page
                        and not any(page.evaluate("id => !!document.getElementById(id)", i) for i in ids)
                    ):
                        problems.append(f"{path.name}: no anchor #{target.fragment}")
                page.close()
        finally:
            browser.close()
    assert problems == [], "\n".join(problems)
