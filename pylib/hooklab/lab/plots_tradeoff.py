"""Plots of what polling costs and how it compares with push, one function per plot.

Same look as :mod:`hooklab.lab.plotting` (call ``use_style()`` first): Okabe-Ito colours with fixed
roles, markers as well as colours, units on every axis, titles that state the finding (passed in
by the notebook, which knows the numbers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hooklab.lab.plotting import COLORS, MARKERS, new_axes

_POLL = {"color": COLORS["poll"], "marker": MARKERS["poll"]}
_HOOK = {"color": COLORS["webhook"], "marker": MARKERS["webhook"]}
_THEORY = {"color": COLORS["theory"], "linestyle": "--", "linewidth": 1.2}


def _grid(values) -> np.ndarray:
    lo, hi = float(np.min(values)), float(np.max(values))
    return np.geomspace(lo, hi, 200)


def interval_sweep(sweep: pd.DataFrame, *, records: int, rate_per_s: float, title: str):
    """Three panels against the polling interval T: requests per hour, empty share, latency.

    ``sweep`` has one row per interval with columns ``interval_s``, ``requests_per_hour``,
    ``empty_fraction``, ``latency_mean_s`` and ``latency_max_s`` (measured). Theory is drawn as
    dashed lines: ``records * 3600 / T``, ``exp(-rate * T)``, ``T / 2`` and ``T``.
    """
    fig, (ax_req, ax_empty, ax_lat) = new_axes(3, title=title, width=12.5)
    t = sweep["interval_s"].to_numpy(dtype=float)
    grid = _grid(t)

    ax_req.plot(t, sweep["requests_per_hour"], linestyle="none", label="simulated", **_POLL)
    ax_req.plot(grid, records * 3600 / grid, label=f"theory {records} x 3600 / T", **_THEORY)
    ax_req.set(xscale="log", yscale="log", xlabel="polling interval T (s)", ylabel="requests to B per hour")
    ax_req.set_title("Load falls as 1/T")

    ax_empty.plot(t, 100 * sweep["empty_fraction"], linestyle="none", label="simulated", **_POLL)
    ax_empty.plot(grid, 100 * np.exp(-rate_per_s * grid), label="theory exp(-λT)", **_THEORY)
    ax_empty.set(xscale="log", ylim=(0, 102), xlabel="polling interval T (s)", ylabel="empty polls (%)")
    ax_empty.set_title("Most polls find nothing")

    ax_lat.plot(t, sweep["latency_mean_s"], linestyle="none", label="simulated mean", **_POLL)
    ax_lat.plot(grid, grid / 2, label="theory mean T/2", **_THEORY)
    ax_lat.plot(t, sweep["latency_max_s"], linestyle="none", marker="^", color=COLORS["news"],
                label="simulated max")  # fmt: skip
    ax_lat.plot(grid, grid, color=COLORS["news"], linestyle=":", linewidth=1.2, label="theory max T")
    ax_lat.set(xscale="log", yscale="log", xlabel="polling interval T (s)", ylabel="detection latency (s)")
    ax_lat.set_title("Latency grows as T/2")
    for ax in (ax_req, ax_empty, ax_lat):
        ax.legend(loc="best")
    return fig


def rate_limit_latency(
    records: np.ndarray, *, limit_per_hour: float, webhook_latency_s: float, title: str, ax=None
):
    """Best mean latency polling can reach under an hourly rate limit, against the number of records.

    Polling N records within ``limit_per_hour`` needs ``T >= N * 3600 / limit``, so the mean
    latency is at least half that; webhooks are drawn flat at ``webhook_latency_s``.
    """
    if ax is None:
        _, ax = new_axes(title=title)
    else:
        ax.set_title(title)
    n = np.asarray(records, dtype=float)
    t_min = n * 3600 / limit_per_hour
    every = max(1, len(n) // 8)
    ax.plot(n, t_min / 2, label="polling: best mean latency (T/2)", markevery=every, **_POLL)
    ax.plot(n, np.full_like(n, webhook_latency_s), label="webhook: one network hop", markevery=every, **_HOOK)
    ax.set(xscale="log", yscale="log", xlabel="records A watches", ylabel="mean detection latency (s)")
    ax.legend(loc="upper left")
    return ax


def frontier(
    poll: pd.DataFrame,
    webhook,
    *,
    title: str,
    hybrid=None,
    hybrid_label: str = "hybrid",
    feed=None,
    feed_label: str = "changes feed",
    others: dict | None = None,
    ax=None,
):
    """Requests against latency: one point per polling interval, and the webhook point.

    ``poll`` has columns ``interval_s``, ``requests_per_hour``, ``latency_mean_s``; ``webhook``
    (and the optional ``hybrid``, ``feed`` and each of ``others``, ``{label: point}``) has
    ``requests_per_hour`` and ``latency_mean_s``.
    Points are labelled with their interval. The changes feed is pull, so it is drawn in
    polling's colour, as an open triangle.
    """
    if ax is None:
        _, ax = new_axes(title=title)
    else:
        ax.set_title(title)
    ax.plot(poll["requests_per_hour"], poll["latency_mean_s"], label="polling every T", **_POLL)
    # labels alternate above and below their points, so neighbours (2400 s and 3600 s) never overlap
    ordered = poll.sort_values("interval_s").reset_index(drop=True)
    for i, row in ordered.iterrows():
        above = i % 2 == 0  # below: to the left, where the falling curve leaves room
        ax.annotate(f"T={row['interval_s']:g}s", (row["requests_per_hour"], row["latency_mean_s"]),
                    textcoords="offset points", xytext=(6, 4) if above else (-6, -12),
                    ha="left" if above else "right", fontsize=8, color=COLORS["poll"])  # fmt: skip
    # drawn on top: long polling sits right on it (the same wait, about one request per change)
    ax.plot([webhook["requests_per_hour"]], [webhook["latency_mean_s"]], linestyle="none", markersize=7,
            label="webhook", zorder=5, **_HOOK)  # fmt: skip
    if hybrid is not None:
        ax.plot([hybrid["requests_per_hour"]], [hybrid["latency_mean_s"]], linestyle="none", markersize=8,
                color=COLORS["hybrid"], marker=MARKERS["hybrid"], label=hybrid_label)  # fmt: skip
    if feed is not None:
        ax.plot([feed["requests_per_hour"]], [feed["latency_mean_s"]], linestyle="none", markersize=10,
                color=COLORS["poll"], marker="^", markerfacecolor="white", markeredgewidth=1.8,
                label=feed_label)  # fmt: skip
    # smarter pulls (notebook 06): {label: point}, hollow markers in polling's colour (they are pull),
    # large and see-through, so a point under one (the webhook under long polling) still shows
    for (label, p), marker in zip((others or {}).items(), ("v", "o", "*", "h"), strict=False):
        if not p["requests_per_hour"] > 0:  # a log axis cannot show zero: say so, not a legend without a mark
            raise ValueError(
                f"{label}: {p['requests_per_hour']} requests per hour cannot be drawn on a log axis"
            )
        ax.plot([p["requests_per_hour"]], [p["latency_mean_s"]], linestyle="none", markersize=13,
                color=COLORS["poll"], marker=marker, markerfacecolor="none", markeredgewidth=1.5,
                label=label, zorder=4)  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="requests per hour between A and B",
           ylabel="mean detection latency (s)")  # fmt: skip
    ax.margins(x=0.15, y=0.25)  # room for the interval labels at either end, whatever T is tried
    if others:  # many markers: the legend beside the plot, where no point can be
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    else:
        ax.legend(loc="best")  # where the points are not: they move with the parameters
    return ax


def scaling(
    table: pd.DataFrame,
    *,
    x: str,
    xlabel: str,
    title: str,
    crossover: float | None = None,
    crossover_label: str = "",
    ax=None,
):
    """Requests per hour of polling and of webhooks against ``x`` (records, or change rate).

    ``table`` has one row per value of ``x`` with columns ``poll_requests_per_hour`` and
    ``webhook_requests_per_hour``. ``crossover`` draws a vertical line where the two meet.
    """
    if ax is None:
        _, ax = new_axes(title=title)
    else:
        ax.set_title(title)
    ax.plot(table[x], table["poll_requests_per_hour"], label="polling", **_POLL)
    ax.plot(table[x], table["webhook_requests_per_hour"], label="webhook", **_HOOK)
    if crossover is not None:
        ax.axvline(crossover, color=COLORS["theory"], linestyle=":", linewidth=1.2, label=crossover_label)
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="requests per hour")
    ax.legend(loc="upper left")
    return ax


def poll_timeline(
    interval_s: float,
    *,
    records: int = 6,
    rate_per_s: float = 1 / 300,
    window_s: float = 300.0,
    lanes: int | None = None,
    seed: int = 0,
    title: str | None = None,
):
    """Simulate polling every ``interval_s`` and draw the first ``lanes`` records' timeline (all of
    them unless ``lanes`` is given; the title then says how many of how many).

    ``records`` change as a Poisson process of ``rate_per_s`` each; the picture covers the first
    ``window_s`` simulated seconds. The default title states what the picture shows (how many
    polls, how many found news). Returns the axes, the requests and the changes drawn.
    """
    from hooklab.lab.experiments import first_lanes
    from hooklab.lab.plotting import timeline
    from hooklab.sim import simulate

    run = simulate("poll", interval_s=interval_s, records=records, rate_per_s=rate_per_s,
                   duration_s=window_s, seed=seed)  # fmt: skip
    lanes = records if lanes is None else min(lanes, records)
    requests, changes = first_lanes(run, lanes)
    found = int(requests["news"].sum())
    if title is None:
        shown = "" if lanes == records else f" ({lanes} of {records} records)"
        title = f"Polling every {interval_s:g} s{shown}: {len(requests)} polls, {found} found news, the rest nothing"
    ax = timeline(requests, changes, mode="poll", title=title)
    return ax, requests, changes


def interval_explorer(interval_s: float, *, records: int, rate_per_s: float, seed: int = 0) -> None:
    """One polling interval, explored: an hour of ``records`` polled every ``interval_s``, printed
    next to theory, and the timeline of four of them, shown at once (``plt.show()``).

    Made for an optional ``ipywidgets.interact`` slider, so it returns nothing (interact would
    display a return value).
    """
    import matplotlib.pyplot as plt

    from hooklab.sim import simulate, theory_poll

    s = simulate("poll", interval_s=interval_s, records=records, rate_per_s=rate_per_s,
                 duration_s=3600, seed=seed).summary  # fmt: skip
    theory = theory_poll(interval_s, rate_per_s, records)
    print(f"T = {interval_s:g} s, {records} records, one simulated hour: {s['requests']:,} requests, "
          f"{s['empty_fraction']:.1%} empty (theory {theory['empty_fraction']:.1%}), "
          f"mean detection latency {s['latency_mean_s']:.1f} s (theory {theory['latency_mean_s']:g} s)")  # fmt: skip
    poll_timeline(interval_s, records=records, rate_per_s=rate_per_s, window_s=max(300.0, 10 * interval_s),
                  lanes=4, seed=seed)  # fmt: skip
    plt.show()


def freshness_curve(points: pd.DataFrame, *, title: str):
    """Freshness of periodic polling against r = λT: the theory (1 - e^-r) / r as a line, the
    simulated points (``lab.freshness_points``) as markers (notebook 06)."""
    import numpy as np

    from hooklab.core.adaptive import freshness

    fig, ax = new_axes()
    r = np.geomspace(0.01, 20, 200)
    ax.plot(r, [freshness(x, 1.0) for x in r], color=COLORS["theory"], linewidth=1.2, label="(1 - e^-r) / r")
    ax.scatter(points["r"], points["simulated"], color=COLORS["poll"], marker=MARKERS["poll"], zorder=3,
               label="simulated")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("r = λT (changes per polling interval)")
    ax.set_ylabel("share of time A's copy is current")
    ax.set_ylim(0, 1.02)
    ax.legend()
    ax.set_title(title)
    return ax
