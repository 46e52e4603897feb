"""One look for every plot in the series: fixed size, labelled units, a colour-blind-safe palette.

Colours are the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies);
poll and webhook always get the same colour, and markers differ too, so nothing relies on colour
alone.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import pandas as pd

OKABE_ITO = {
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
}
#: Fixed roles, so a colour means the same thing in every notebook.
COLORS = {
    "poll": OKABE_ITO["blue"],
    "webhook": OKABE_ITO["vermillion"],
    "theory": OKABE_ITO["black"],
    "change": OKABE_ITO["green"],
    "empty": OKABE_ITO["sky"],
    "news": OKABE_ITO["orange"],
    "hybrid": OKABE_ITO["purple"],
}
MARKERS = {"poll": "o", "webhook": "s", "hybrid": "D", "theory": ""}
FIGSIZE = (7.5, 3.6)


def use_style() -> None:
    """Apply the series' plot style (call once in a notebook's setup cell)."""
    mpl.rcParams.update(
        {
            "figure.figsize": FIGSIZE,
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 11,
            "axes.titleweight": "bold",
            "axes.labelsize": 10,
            "legend.fontsize": 9,
            "legend.frameon": False,
            "axes.prop_cycle": mpl.cycler(color=list(OKABE_ITO.values())),
        }
    )


def new_axes(ncols: int = 1, *, title: str | None = None, width: float | None = None):
    """A figure of the standard size (wider for several panels) and its axes."""
    fig, axes = plt.subplots(
        1, ncols, figsize=(width or FIGSIZE[0] * (1 if ncols == 1 else 0.75 * ncols), FIGSIZE[1])
    )
    if title:
        fig.suptitle(title, fontweight="bold")
    fig.set_layout_engine("constrained")
    return fig, axes


def lane_order(requests: pd.DataFrame, latencies: pd.DataFrame) -> list[str]:
    """The payments a timeline draws, one lane each: those that changed (by first change), then those
    only polled (a payment that did not change in the window is still asked about)."""
    polled = [path.rsplit("/", 1)[1] for path in requests["path"] if path.startswith("/payments/")]
    return list(dict.fromkeys([*latencies["payment_id"], *polled]))


def timeline(
    requests: pd.DataFrame,
    latencies: pd.DataFrame,
    *,
    mode: str,
    title: str,
    until_s: float | None = None,
    ax=None,
):
    """Requests between A and B over time, each change of B's marked, and when A learned it.

    Each payment has a lane: a green diamond where B changed it and a grey bar until A knew (the
    detection latency). Polls sit on their payment's lane; webhook deliveries, which do not name
    the payment in their URL, share a lane at the bottom. Filled markers carried news (poll) or
    were accepted (webhook); hollow ones were empty polls or failed deliveries.
    """
    if ax is None:
        _, ax = new_axes(title=title)
    else:
        ax.set_title(title)
    kind = "poll" if mode == "poll" else "webhook"
    sent = requests[(requests["kind"] == kind) & (requests["direction"] == "out")]
    if until_s is not None:
        sent = sent[sent["time"] <= until_s]
        latencies = latencies[latencies["changed_at"] <= until_s]
    if mode == "poll":
        filled = (sent["news"] == True).to_numpy(dtype=bool)  # noqa: E712 (nullable column)
        labels = ("poll that found news", "poll, nothing new")
    else:
        filled = sent["status"].between(200, 299).fillna(False).to_numpy(dtype=bool)
        labels = ("delivery accepted", "delivery failed (retried later)")
    lane = {pid: i for i, pid in enumerate(lane_order(sent, latencies))}
    if mode == "poll":  # each poll on its payment's lane: the gaps between polls are the interval
        y_sent = [lane.get(path.rsplit("/", 1)[-1], -1) for path in sent["path"]]
        ticks = {**{i: f"payment {i + 1}" for i in lane.values()}}
    else:  # a delivery does not name its payment in the URL: one lane for all of them
        y_sent = [-1] * len(sent)
        ticks = {-1: "deliveries", **{i: f"payment {i + 1}" for i in lane.values()}}
    y_sent = pd.Series(y_sent, index=sent.index)
    color, marker = COLORS[kind], MARKERS[kind]
    ax.scatter(sent["time"][filled], y_sent[filled], marker=marker, color=color, label=labels[0], zorder=4)
    ax.scatter(sent["time"][~filled], y_sent[~filled], marker=marker, facecolors="none",
               edgecolors=color, label=labels[1], zorder=4)  # fmt: skip
    ys = [lane[pid] for pid in latencies["payment_id"]]
    ax.hlines(ys, latencies["changed_at"], latencies["learned_at"], color="0.65", linewidth=4,
              label="detection latency")  # fmt: skip
    ax.scatter(
        latencies["changed_at"], ys, marker="D", color=COLORS["change"], zorder=3, label="B changes a payment"
    )
    ax.scatter(
        latencies["learned_at"],
        ys,
        marker="|",
        s=180,
        color=COLORS["theory"],
        zorder=3,
        label="A learns of it",
    )
    ax.set_yticks(list(ticks), list(ticks.values()))
    ax.set_xlabel("time since start (s)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


def cast_diagram(ax=None):
    """The cast of the series: System A (the shop) and System B (the payment provider).

    Pull on top (A asks ``GET /payments/{id}``, again and again), push below (A registers once,
    then B sends ``POST /webhooks/payments`` when something changes).
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if ax is None:
        _, ax = new_axes(width=FIGSIZE[0])
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 6.2)
    ax.axis("off")
    boxes = {
        "A": (0.1, "System A\nthe shop", "your application:\nneeds to know\nwhen a payment\nsettles"),
        "B": (7.5, "System B\nthe payment\nprovider", "an external\nservice that\nsettles the\npayments"),
    }
    for x, name, text in boxes.values():
        ax.add_patch(FancyBboxPatch((x, 0.4), 2.4, 5.2, boxstyle="round,pad=0.05", facecolor="0.96",
                                    edgecolor="0.3", linewidth=1.2))  # fmt: skip
        ax.text(x + 1.2, 5.5, name, ha="center", va="top", fontsize=10, fontweight="bold")
        ax.text(x + 1.2, 2.4, text, ha="center", va="center", fontsize=8.5, color="0.35")

    def arrow(y, forward, color, label, *, dashed=False, above=True):
        x0, x1 = (2.65, 7.45) if forward else (7.45, 2.65)
        ax.add_patch(FancyArrowPatch((x0, y), (x1, y), arrowstyle="-|>", mutation_scale=14, color=color,
                                     linewidth=1.6, linestyle="--" if dashed else "-"))  # fmt: skip
        ax.text(5.0, y + (0.14 if above else -0.14), label, ha="center", va="bottom" if above else "top",
                fontsize=8, family="monospace", color=color)  # fmt: skip

    ax.text(5.0, 5.75, "pull (API polling): A asks, every T s", ha="center", fontsize=9, fontweight="bold",
            color=COLORS["poll"])  # fmt: skip
    arrow(5.0, True, COLORS["poll"], "GET /payments/{id}")
    arrow(4.3, False, COLORS["poll"], '200 {"status": "pending"}', dashed=True)
    ax.text(5.0, 3.7, "(most answers: nothing new)", ha="center", fontsize=8, color=COLORS["poll"])
    ax.text(5.0, 2.65, "push (webhook): B tells, once per change", ha="center", fontsize=9,
            fontweight="bold", color=COLORS["webhook"])  # fmt: skip
    arrow(1.95, True, "0.45", "POST /webhook-endpoints (once)")
    arrow(1.05, False, COLORS["webhook"], "POST /webhooks/payments", above=True)
    ax.text(5.0, 0.9, "signed event: payment.succeeded", ha="center", va="top", fontsize=8,
            color=COLORS["webhook"])  # fmt: skip
    return ax


def pull_push_timelines(poll: tuple, webhook: tuple, *, title: str):
    """Two :func:`timeline` panels, pull above push, on one time axis: ``(requests, latencies)`` each."""
    fig, axes = plt.subplots(2, 1, figsize=(FIGSIZE[0], FIGSIZE[1] * 1.7), sharex=True)
    fig.set_layout_engine("constrained")
    fig.suptitle(title, fontweight="bold")
    timeline(*poll, mode="poll", title="pull: A polls B", ax=axes[0])
    timeline(*webhook, mode="webhook", title="push: B delivers to A", ax=axes[1])
    axes[0].set_xlabel("")
    return axes
