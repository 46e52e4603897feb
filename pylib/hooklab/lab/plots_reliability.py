"""Notebook 05's figures: retry schedules, what share of an outage arrives, one chaos run."""

from __future__ import annotations

import matplotlib.ticker as mticker
import pandas as pd

from hooklab.lab.plotting import COLORS, OKABE_ITO, new_axes

#: One colour and marker per retry policy, the same in every figure.
POLICY_STYLE = {
    "fast": (OKABE_ITO["black"], "o"),
    "svix": (OKABE_ITO["vermillion"], "s"),
    "standard": (OKABE_ITO["orange"], "D"),
    "shopify": (OKABE_ITO["green"], "^"),
    "stripe": (OKABE_ITO["blue"], "v"),
    "github": (OKABE_ITO["purple"], "X"),
}
_TICKS = [(1, "1 s"), (60, "1 min"), (3600, "1 h"), (86400, "1 day"), (7 * 86400, "1 week")]


def _time_axis(ax, *, symlog: bool) -> None:
    if symlog:
        ax.set_xscale("symlog", linthresh=1.0)
    else:
        ax.set_xscale("log")
    axis = ax.xaxis
    axis.set_major_locator(mticker.FixedLocator([t for t, _ in _TICKS]))
    axis.set_major_formatter(mticker.FixedFormatter([label for _, label in _TICKS]))
    axis.set_minor_locator(mticker.NullLocator())


def retry_schedules(frame: pd.DataFrame, *, title: str):
    """When each policy tries (``schedules()``'s rows) on one log time axis from the first attempt;
    approximations (providers that publish no intervals) drawn hollow."""
    fig, ax = new_axes()
    names = list(dict.fromkeys(frame["policy"]))
    for row, name in enumerate(names):
        rows = frame[frame["policy"] == name]
        color, marker = POLICY_STYLE.get(name, (OKABE_ITO["black"], "o"))
        approx = bool(rows["approximate"].iloc[0])
        ax.plot(rows["at_s"], [row] * len(rows), marker=marker, linestyle="-", linewidth=0.8, color=color,
                markerfacecolor="none" if approx else color, markersize=7)  # fmt: skip
        last = rows["at_s"].max()
        ax.annotate(f"{len(rows)} attempt{'s' if len(rows) > 1 else ''}", (max(last, 0.3), row),
                    xytext=(8, -3), textcoords="offset points", fontsize=8)  # fmt: skip
    ax.set_yticks(range(len(names)), [f"{n} (approx.)" if frame[frame.policy == n]["approximate"].iloc[0] else n
                                      for n in names])  # fmt: skip
    ax.invert_yaxis()
    _time_axis(ax, symlog=True)
    ax.set_xlim(-0.2, 20 * 86400)
    ax.set_xlabel("time since the first attempt (symmetric log scale; 0 = the first attempt)")
    ax.set_title(title)
    return ax


def delivered_curves(frame: pd.DataFrame, *, title: str):
    """Share of an outage's events A eventually receives, against the outage's length, per policy
    (``delivered_share()``'s rows); the dotted line is ``min(1, span / D)``, hollow markers where
    B had disabled the endpoint by the end."""
    fig, ax = new_axes()
    for name, rows in frame.groupby("policy", sort=False):
        color, marker = POLICY_STYLE.get(name, (OKABE_ITO["black"], "o"))
        ax.plot(rows["outage_s"], rows["share"], color=color, linewidth=1.2, label=name)
        ax.plot(rows["outage_s"], rows["theory"], color=color, linewidth=0.8, linestyle=":")
        for disabled, marks in rows.groupby("disabled"):
            ax.scatter(marks["outage_s"], marks["share"], color=color, marker=marker, s=30,
                       facecolors="none" if disabled else color, zorder=3)  # fmt: skip
    _time_axis(ax, symlog=False)
    ax.set_xlim(frame["outage_s"].min() * 0.8, frame["outage_s"].max() * 1.25)
    ax.set_ylim(-0.04, 1.04)
    ax.yaxis.set_major_formatter(mticker.PercentFormatter(1.0))
    ax.set_xlabel("how long A is down (log scale)")
    ax.set_ylabel("events A eventually receives")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), title="policy")
    ax.set_title(title)
    return ax


def chaos_timeline(result, *, title: str):
    """One chaos run (``chaos_run()``'s result): every delivery attempt B made, by event, coloured by
    its outcome, with the times A was dead shaded."""
    fig, ax = new_axes()
    log = result.attempt_log
    order = {e: k for k, e in enumerate(dict.fromkeys(log["event_id"]))}
    ok = log["status"] == 200
    ax.scatter(log.loc[ok, "t"], log.loc[ok, "event_id"].map(order), s=14, color=COLORS["change"],
               marker="o", label="attempt answered 200", zorder=3)  # fmt: skip
    ax.scatter(log.loc[~ok, "t"], log.loc[~ok, "event_id"].map(order), s=18, color=COLORS["webhook"],
               marker="x", label="attempt failed (dropped, lost answer, A dead)", zorder=3)  # fmt: skip
    moments = result.timeline
    kills = moments[moments["what"].str.startswith("A killed")]["t"].tolist()
    backs = moments[moments["what"] == "A started again"]["t"].tolist()
    for k, (down, up) in enumerate(zip(kills, backs, strict=False)):
        ax.axvspan(
            down,
            up,
            color=OKABE_ITO["sky"],
            alpha=0.3,
            linewidth=0,
            label="A dead (SIGKILL)" if k == 0 else None,
        )
    ax.set_xlabel("seconds since the first payment")
    ax.set_ylabel("event (in the order B made them)")
    ax.legend(loc="upper left", fontsize=8, frameon=True, framealpha=0.9)
    ax.set_title(title)
    return ax
