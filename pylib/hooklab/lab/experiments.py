"""Small experiments behind notebooks 01 and 04: live frames, rate-limit arithmetic, scenarios.

The notebooks show the loop or the sweep; the bookkeeping that turns raw records into a table
lives here.
"""

from __future__ import annotations

import math

import pandas as pd

from hooklab.live.provider_app import ProviderService
from hooklab.live.runs import frames_since
from hooklab.live.shop_app import ShopService
from hooklab.measure import progress

#: GitHub REST API primary rate limit for an authenticated user (requests per hour). Source:
#: https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api
GITHUB_RATE_LIMIT_PER_HOUR = 5_000
#: Share of polls that find nothing new, on average, per Zapier's REST Hooks site. Source:
#: https://resthooks.org (quoted as "98.5% of polls are wasted")
RESTHOOKS_WASTED_SHARE = 0.985


def live_frames(provider: ProviderService, shop: ShopService) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A live run's request log (A's side) and per-change latencies, times in seconds since start.

    "Start" is A's first request.
    """
    requests = shop.log.to_frame()
    t0 = float(requests["time"].min()) if len(requests) else 0.0
    return frames_since(t0, requests, provider, shop)


def requests_per_hour(records: float, interval_s: float) -> float:
    """Polling load on B: every record asked once per interval, ``records * 3600 / interval_s``."""
    return records * 3600.0 / interval_s


def min_interval_under_limit(records: float, limit_per_hour: float = GITHUB_RATE_LIMIT_PER_HOUR) -> float:
    """The shortest polling interval (s) that keeps ``records`` polls inside an hourly rate limit."""
    return records * 3600.0 / limit_per_hour


def max_records_under_limit(interval_s: float, limit_per_hour: float = GITHUB_RATE_LIMIT_PER_HOUR) -> int:
    """How many records one client can poll every ``interval_s`` without passing the limit."""
    return math.floor(limit_per_hour * interval_s / 3600.0)


def per_hour(table: pd.DataFrame, duration_s: float) -> pd.DataFrame:
    """``table`` (a :func:`hooklab.sim.sweep` result) plus ``requests_per_hour`` over its window."""
    out = table.copy()
    out["requests_per_hour"] = out["requests"] * 3600.0 / duration_s
    return out


def theory_check(run) -> pd.DataFrame:
    """A simulated polling run's figures next to theory (T/2, T, exp(-lambda*T), N/T).

    ``run`` is a :class:`hooklab.sim.SimRun` of a Poisson workload in ``poll`` mode.
    """
    from hooklab.sim import theory_poll

    p = run.params
    theory = theory_poll(p["interval_s"], p["rate_per_s"], p["records"])
    keys = ("latency_mean_s", "latency_max_s", "empty_fraction", "provider_rps")
    return pd.DataFrame(
        {"simulated": [run.summary[k] for k in keys], "theory": [theory[k] for k in keys]},
        index=pd.Index(keys, name="figure"),
    )


def first_lanes(run, n: int = 4, until_s: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The requests and changes of a run's first ``n`` records (those that changed, by first change,
    then those only polled), up to ``until_s``: few enough lanes for
    :func:`hooklab.lab.plotting.timeline` to stay readable.
    """
    requests, latencies = run.requests, run.latencies
    if until_s is not None:
        requests = requests[requests["time"] <= until_s]
        latencies = latencies[latencies["changed_at"] <= until_s]
    from hooklab.lab.plotting import lane_order

    ids = lane_order(requests, latencies)[:n]
    paths = {f"/payments/{pid}" for pid in ids}
    return (
        requests[requests["path"].isin(paths)].reset_index(drop=True),
        latencies[latencies["payment_id"].isin(ids)].reset_index(drop=True),
    )


def scan(
    param: str,
    values,
    *,
    modes=("poll", "webhook"),
    duration_s: float = 3600.0,
    seed: int = 0,
    **fixed,
) -> pd.DataFrame:
    """One simulated run per value of ``param`` (``records``, ``rate_per_s``, ``interval_s``...)
    and per mode; one row per value with ``<mode>_requests_per_hour``, ``<mode>_latency_mean_s``
    and ``<mode>_empty_fraction``, plus ``changes_per_hour``. Same seed throughout, so the modes
    see the same changes.
    """
    from hooklab.sim import simulate

    rows = []
    for value in progress.bar(values, desc=f"scan {param}", unit="value"):
        row: dict = {param: value}
        for mode in modes:
            summary = simulate(mode, duration_s=duration_s, seed=seed, **{param: value, **fixed}).summary
            row[f"{mode}_requests_per_hour"] = summary["requests"] * 3600.0 / duration_s
            row[f"{mode}_latency_mean_s"] = summary["latency_mean_s"]
            row[f"{mode}_empty_fraction"] = summary["empty_fraction"]
            row["changes_per_hour"] = summary["changes"] * 3600.0 / duration_s
        rows.append(row)
    return pd.DataFrame(rows)


def scenario_table(scenarios: list[dict]) -> pd.DataFrame:
    """Polling against webhooks for named situations, from the formulas the sweeps confirmed.

    Each scenario: ``name``, ``records`` (N), ``changes_per_hour`` (per record, lambda x 3600)
    and ``wait_s`` (the mean delay A can accept). Polling must then ask every ``T = 2 * wait_s``
    (mean wait T/2): ``N * 3600 / T`` requests per hour; webhooks send one per change,
    ``N * changes_per_hour``. ``cheaper`` names the side with fewer requests;
    ``poll_within_github_limit`` says whether polling fits 5,000 requests/hour. A scenario may say
    ``every_transition`` (A must see each state, not only the latest): polling sees only what is
    there when it asks, so ``pick`` is then ``webhook`` whatever ``cheaper`` says. The smarter pulls
    at the same interval: ``conditional_quota_per_hour`` (what conditional polling counts against a
    limit like GitHub's), ``feed_requests_per_hour`` and ``long_poll_requests_per_hour`` (at most one
    per change, plus a timeout every 30 s of quiet; it waits one hop, not T/2).
    """
    rows = []
    for sc in scenarios:
        interval = 2.0 * sc["wait_s"]
        poll = requests_per_hour(sc["records"], interval)
        push = sc["records"] * sc["changes_per_hour"]
        rows.append(
            {
                "scenario": sc["name"],
                "records": sc["records"],
                "changes_per_record_hour": sc["changes_per_hour"],
                "mean_wait_s": sc["wait_s"],
                "poll_interval_s": interval,
                "poll_requests_per_hour": poll,
                "webhook_requests_per_hour": push,
                "cheaper": "poll" if poll < push else "webhook",
                "every_transition": bool(sc.get("every_transition", False)),
                "pick": "webhook" if sc.get("every_transition") else ("poll" if poll < push else "webhook"),
                "poll_within_github_limit": poll <= GITHUB_RATE_LIMIT_PER_HOUR,
                # smarter pulls at the same interval (notebook 06): conditional polls count against a
                # quota only when they find a change; a feed asks once for all records (plus a page
                # per 100 events); a long poll costs about one request per change, or per 30 s quiet
                "conditional_quota_per_hour": round(
                    sc["records"]
                    * (1 - math.exp(-sc["changes_per_hour"] / 3600 * interval))
                    * 3600
                    / interval,
                    1,
                ),
                "feed_requests_per_hour": round(3600 / interval + push / 100, 1),
                "long_poll_requests_per_hour": round(
                    min(push, 3600 / interval * sc["records"]) + 3600 / 30, 1
                ),
            }
        )
    return pd.DataFrame(rows).set_index("scenario")


def point(run) -> pd.Series:
    """One simulated run as a point for :func:`hooklab.lab.plots_tradeoff.frontier`: its summary
    plus ``requests_per_hour`` over the measured window.
    """
    out = pd.Series(run.summary, dtype=object)
    out["requests_per_hour"] = run.summary["requests"] * 3600.0 / run.params["duration_s"]
    return out


def compare(points: dict[str, pd.Series]) -> pd.DataFrame:
    """Named :func:`point` results side by side, one row each: requests per hour, mean wait,
    share of empty responses.
    """
    keys = ["requests_per_hour", "latency_mean_s", "empty_fraction"]
    return pd.DataFrame(
        {name: [float(p[k]) for k in keys] for name, p in points.items()}, index=keys
    ).T.rename_axis("strategy")
