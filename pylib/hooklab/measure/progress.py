"""Progress bars for what can take more than a couple of seconds: sweeps, scans, live runs.

In a terminal the bar is ``tqdm``'s line of text. In a notebook it is a widget of our own that,
when done, replaces itself with an empty output: tqdm's widget would stay in the saved notebook,
where JupyterLab reopens it as "model not found" (widget models are not saved), and it turns red
when a wait ends before its timeout, which is how a wait is meant to end. A bar appears only once
its work has run for :data:`DELAY_S`, so quick runs show nothing. ``HOOKLAB_PROGRESS=0`` turns bars off: the test runs and ``make notebooks`` set it, so
the stored outputs of a notebook are the same on every run.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterable, Iterator

#: Seconds of work before a bar is shown.
DELAY_S = 1.0


def enabled() -> bool:
    """Bars are on unless ``HOOKLAB_PROGRESS`` is ``0``."""
    return os.environ.get("HOOKLAB_PROGRESS", "1") != "0"


class _Off:
    """What :func:`bar` gives when bars are off: iterates, counts, shows nothing."""

    def __init__(self, iterable: Iterable | None) -> None:
        self.iterable, self.n = iterable, 0

    def __iter__(self) -> Iterator:
        return iter(self.iterable or ())

    def update(self, n: int = 1) -> None:
        self.n += n

    def close(self) -> None:
        pass


class _NotebookBar:
    """A progress widget that leaves nothing behind: shown after :data:`DELAY_S`, replaced by an
    empty output when closed (so the saved notebook holds no widget), never red."""

    def __init__(self, iterable: Iterable | None, total: float | None, desc: str, unit: str) -> None:
        self.iterable, self.desc, self.unit, self.n = iterable, desc, unit, 0
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self._started, self._handle, self._widgets = time.monotonic(), None, None

    def __iter__(self) -> Iterator:
        try:
            for item in self.iterable or ():
                yield item
                self.update()
        finally:
            self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._handle is None and time.monotonic() - self._started >= DELAY_S:
            self._show()
        if self._widgets is not None:
            meter, label = self._widgets
            meter.value = min(self.n, meter.max)
            of = f"/{self.total:g}" if self.total else ""
            label.value = f"{self.n:g}{of} {self.unit} · {time.monotonic() - self._started:.0f} s"

    def _show(self) -> None:
        import ipywidgets
        from IPython.display import display

        meter = ipywidgets.FloatProgress(min=0, max=self.total or 1, description=self.desc,
                                         style={"description_width": "initial"})  # fmt: skip
        label = ipywidgets.Label()
        self._widgets = (meter, label)
        self._handle = display(ipywidgets.HBox([meter, label]), display_id=True)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.update({"text/plain": ""}, raw=True)  # the widget's output, replaced
            for widget in self._widgets:
                widget.close()
            self._handle = self._widgets = None


def _in_a_notebook() -> bool:
    """Running in a Jupyter kernel (not a terminal IPython, not plain Python)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def bar(iterable: Iterable | None = None, *, total: float | None = None, desc: str = "", unit: str = "it"):
    """A bar over ``iterable`` (or one to ``update`` by hand up to ``total``); ``close`` it, or
    use :func:`tracking`."""
    if not enabled():
        return _Off(iterable)
    if _in_a_notebook():
        return _NotebookBar(iterable, total, desc, unit)
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, delay=DELAY_S, leave=False, dynamic_ncols=True)


@contextlib.contextmanager
def tracking(*, total: float | None = None, desc: str = "", unit: str = "it"):
    """``with tracking(total=...) as progress: ... progress.update(k)``, closed on the way out."""
    progress = bar(total=total, desc=desc, unit=unit)
    try:
        yield progress
    finally:
        progress.close()
