"""Notebook 07's figures: the knee of a receiver's latency, and the load a burst sends it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from hooklab.lab.plotting import FIGSIZE, OKABE_ITO, new_axes

#: One colour per way of meeting a burst (stability.RECEIVERS' order), the same in every figure.
_RECEIVER_COLORS = [OKABE_ITO["vermillion"], OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["green"]]


def knee(table: pd.DataFrame, capacity_per_s: float, timeout_s: float, *, title: str):
    """Latency (p50, p99 of the answered) and the share that timed out, against the offered load
    (``stability_live.knee()``'s rows); A's capacity a dashed line, B's timeout a dotted one."""
    fig, (lat, lost) = new_axes(2, title=title)
    offered = table.index.to_numpy()
    lat.plot(offered, table["p50_ms"], marker="o", color=OKABE_ITO["blue"], label="p50")
    lat.plot(offered, table["p99_ms"], marker="s", color=OKABE_ITO["vermillion"], label="p99")
    lat.axhline(
        1000 * timeout_s, color=OKABE_ITO["black"], linestyle=":", linewidth=1, label="the sender's timeout"
    )
    lat.set_yscale("log")
    lat.set_ylabel("latency of the answered (ms, log scale)")
    lost.bar(offered, 100 * table["timed_out"] / table["sent"], width=0.08 * offered.max(),
             color=OKABE_ITO["vermillion"])  # fmt: skip
    lost.set_ylabel("timed out (% of sent)")
    lost.set_ylim(0, 100)
    for ax in (lat, lost):
        ax.axvline(capacity_per_s, color=OKABE_ITO["black"], linestyle="--", linewidth=1)
        ax.annotate("A's capacity", (capacity_per_s, 0.97), xycoords=("data", "axes fraction"),
                    xytext=(4, -10), textcoords="offset points", fontsize=8)  # fmt: skip
        ax.set_xlabel("offered load (events a second)")
    lat.legend(loc="upper left", fontsize=8)
    return fig


def arrivals(frame: pd.DataFrame, capacity_per_s: float, *, title: str):
    """Delivery attempts reaching A per second over time (``stability.burst_arrivals()``), one panel
    per way of meeting the burst (they would hide each other on one), A's capacity dashed."""
    fig, axes = plt.subplots(len(frame.columns), 1, sharex=True, sharey=True,
                             figsize=(FIGSIZE[0], 0.9 + 0.9 * len(frame.columns)))  # fmt: skip
    fig.suptitle(title, fontweight="bold")
    fig.set_layout_engine("constrained")
    for ax, (name, column), color in zip(axes, frame.items(), _RECEIVER_COLORS, strict=False):
        ax.fill_between(frame.index, column, step="post", color=color, alpha=0.35, linewidth=0)
        ax.step(frame.index, column, where="post", color=color, linewidth=1.2)
        ax.axhline(capacity_per_s, color=OKABE_ITO["black"], linestyle="--", linewidth=1)
        ax.set_title(name, fontsize=9, loc="left")
    axes[0].annotate("A's capacity", (frame.index.max(), capacity_per_s), xytext=(-70, 4),
                     textcoords="offset points", fontsize=8)  # fmt: skip
    axes[-1].set_xlabel(frame.index.name)
    fig.supylabel("attempts reaching A a second", fontsize=9)
    return fig
