"""Progress bars for what can take more than a couple of seconds: sweeps, scans, live runs.

``tqdm.auto`` picks the bar: a widget in JupyterLab, a line of text in a terminal. A bar appears
only once its work has run for :data:`DELAY_S`, so quick runs print nothing, and it clears itself
when done. ``HOOKLAB_PROGRESS=0`` turns bars off: the test runs and ``make notebooks`` set it, so
the stored outputs of a notebook are the same on every run.
"""

from __future__ import annotations

import contextlib
import os
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


def bar(iterable: Iterable | None = None, *, total: float | None = None, desc: str = "", unit: str = "it"):
    """A bar over ``iterable`` (or one to ``update`` by hand up to ``total``); ``close`` it, or
    use :func:`tracking`."""
    if not enabled():
        return _Off(iterable)
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
