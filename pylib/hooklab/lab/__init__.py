"""What the notebooks call, from one place: ``from hooklab import lab``.

The two systems (live and in their cores), the simulation, the experiments and the plots the
series is built from. A notebook imports this module, and names from it, and nothing else of
hooklab's, so the notebooks never depend on where a name lives inside the package.

Names load when first used (PEP 562): a notebook pays only for the modules it touches, so its first
cell answers at once (``benchmarks/bench_first_cell.py``); ``from hooklab.lab import X`` works as
for any module.
"""

from __future__ import annotations

import importlib

#: Every name of the surface: where it lives (module, name there).
_WHERE: dict[str, tuple[str, str]] = {
    "check_answer": ("hooklab.lab.answers", "check_answer"),
    "worked_solution": ("hooklab.lab.answers", "worked_solution"),
    "ATTACKER": ("hooklab.lab.attacks", "ATTACKER"),
    "DEFAULT_RETRY_SCHEDULE": ("hooklab.core.provider", "DEFAULT_RETRY_SCHEDULE"),
    "DEFAULT_TOLERANCE": ("hooklab.core.signing", "DEFAULT_TOLERANCE"),
    "DELIVERY_TIMEOUT_S": ("hooklab.live.provider_app", "DELIVERY_TIMEOUT_S"),
    "DESCRIPTIONS": ("hooklab.lab.attacks", "DESCRIPTIONS"),
    "GITHUB_RATE_LIMIT_PER_HOUR": ("hooklab.lab.experiments", "GITHUB_RATE_LIMIT_PER_HOUR"),
    "REASONS": ("hooklab.core.signing", "REASONS"),
    "RESTHOOKS_WASTED_SHARE": ("hooklab.lab.experiments", "RESTHOOKS_WASTED_SHARE"),
    "SIGNATURE_HEADER": ("hooklab.core.contract", "SIGNATURE_HEADER"),
    "WEBHOOK_PATH": ("hooklab.core.contract", "WEBHOOK_PATH"),
    "ManualClock": ("hooklab.core.clock", "ManualClock"),
    "PaymentProvider": ("hooklab.core.provider", "PaymentProvider"),
    "ProviderService": ("hooklab.live.provider_app", "ProviderService"),
    "SettlementModel": ("hooklab.core.provider", "SettlementModel"),
    "Shop": ("hooklab.core.shop", "Shop"),
    "ShopService": ("hooklab.live.shop_app", "ShopService"),
    "attack_requests": ("hooklab.lab.attacks", "attack_requests"),
    "attempt_times": ("hooklab.lab.demos", "attempt_times"),
    "cast_diagram": ("hooklab.lab.plotting", "cast_diagram"),
    "compare": ("hooklab.lab.experiments", "compare"),
    "compare_timings": ("hooklab.lab.attacks", "compare_timings"),
    "delivery_attempts": ("hooklab.lab.demos", "delivery_attempts"),
    "first_attempt_after": ("hooklab.lab.demos", "first_attempt_after"),
    "frontier": ("hooklab.lab.plots_tradeoff", "frontier"),
    "interval_explorer": ("hooklab.lab.plots_tradeoff", "interval_explorer"),
    "interval_sweep": ("hooklab.lab.plots_tradeoff", "interval_sweep"),
    "late_replays": ("hooklab.lab.attacks", "late_replays"),
    "live_frames": ("hooklab.lab.experiments", "live_frames"),
    "live_pair": ("hooklab.lab.attacks", "live_pair"),
    "max_records_under_limit": ("hooklab.lab.experiments", "max_records_under_limit"),
    "min_interval_under_limit": ("hooklab.lab.experiments", "min_interval_under_limit"),
    "per_hour": ("hooklab.lab.experiments", "per_hour"),
    "point": ("hooklab.lab.experiments", "point"),
    "poll_timeline": ("hooklab.lab.plots_tradeoff", "poll_timeline"),
    "pull_push_timelines": ("hooklab.lab.plotting", "pull_push_timelines"),
    "rate_limit_latency": ("hooklab.lab.plots_tradeoff", "rate_limit_latency"),
    "replay_window": ("hooklab.lab.attacks", "replay_window"),
    "requests_per_hour": ("hooklab.lab.experiments", "requests_per_hour"),
    "run_attacks": ("hooklab.lab.attacks", "run_attacks"),
    "run_live": ("hooklab.live.runs", "run_live"),
    "scaling": ("hooklab.lab.plots_tradeoff", "scaling"),
    "scan": ("hooklab.lab.experiments", "scan"),
    "scenario_table": ("hooklab.lab.experiments", "scenario_table"),
    "serve": ("hooklab.live.serving", "serve"),
    "sign_github": ("hooklab.core.signing", "sign_github"),
    "sign_standard": ("hooklab.core.signing", "sign_standard"),
    "sign_stripe": ("hooklab.core.signing", "sign_stripe"),
    "signing": ("hooklab.core", "signing"),
    "simulate": ("hooklab.sim", "simulate"),
    "standard_headers": ("hooklab.core.signing", "standard_headers"),
    "summarize": ("hooklab.measure.summary", "summarize"),
    "sweep": ("hooklab.sim", "sweep"),
    "theory_check": ("hooklab.lab.experiments", "theory_check"),
    "theory_poll": ("hooklab.sim", "theory_poll"),
    "timeline": ("hooklab.lab.plotting", "timeline"),
    "use_style": ("hooklab.lab.plotting", "use_style"),
    "verdict": ("hooklab.lab.attacks", "verdict"),
    "verify_github": ("hooklab.core.signing", "verify_github"),
    "verify_standard": ("hooklab.core.signing", "verify_standard"),
    "verify_stripe": ("hooklab.core.signing", "verify_stripe"),
    "wait_until": ("hooklab.live.runs", "wait_until"),
    "webhook_pair": ("hooklab.lab.demos", "webhook_pair"),
    "with_timestamp": ("hooklab.lab.attacks", "with_timestamp"),
    "POLICIES": ("hooklab.core.retry", "POLICIES"),
    "Faults": ("hooklab.live.faultproxy", "Faults"),
    "ack_comparison": ("hooklab.lab.reliability", "ack_comparison"),
    "chaos_run": ("hooklab.lab.chaos", "chaos_run"),
    "chaos_timeline": ("hooklab.lab.plots_reliability", "chaos_timeline"),
    "concurrent_duplicates": ("hooklab.lab.reliability", "concurrent_duplicates"),
    "delivered_curves": ("hooklab.lab.plots_reliability", "delivered_curves"),
    "delivered_share": ("hooklab.lab.reliability", "delivered_share"),
    "healthy_beside_dead": ("hooklab.lab.reliability", "healthy_beside_dead"),
    "inbox_memory": ("hooklab.lab.reliability", "inbox_memory"),
    "ordering": ("hooklab.lab.reliability", "ordering"),
    "recovery_demo": ("hooklab.lab.reliability", "recovery_demo"),
    "retry_schedules": ("hooklab.lab.plots_reliability", "retry_schedules"),
    "schedules": ("hooklab.lab.reliability", "schedules"),
    "one_or_two_transactions": ("hooklab.lab.crash_between", "one_or_two_transactions"),
    "reconcile_after_outage": ("hooklab.lab.reliability", "reconcile_after_outage"),
    "same_change_two_ids": ("hooklab.lab.reliability", "same_change_two_ids"),
    "BACKOFF_STRATEGIES": ("hooklab.lab.backoff", "STRATEGIES"),
    "share_one_quota": ("hooklab.lab.backoff", "share_one_quota"),
    "estimate_rate": ("hooklab.core.adaptive", "estimate_rate"),
    "budget_allocations": ("hooklab.lab.pulling", "budget_allocations"),
    "freshness_curve": ("hooklab.lab.plots_tradeoff", "freshness_curve"),
    "freshness_points": ("hooklab.lab.pulling", "freshness_points"),
    "rate_limit_plan": ("hooklab.lab.pulling", "rate_limit_plan"),
    "BURST": ("hooklab.lab.stability", "BURST"),
    "RECEIVERS": ("hooklab.lab.stability", "RECEIVERS"),
    "HERD_SENDERS": ("hooklab.lab.stability", "HERD_SENDERS"),
    "burst_table": ("hooklab.lab.stability", "burst_table"),
    "burst_arrivals": ("hooklab.lab.stability", "burst_arrivals"),
    "herd_table": ("hooklab.lab.stability", "herd_table"),
    "pull_under_burst": ("hooklab.lab.stability", "pull_under_burst"),
    "KNEE": ("hooklab.lab.stability_live", "KNEE"),
    "knee": ("hooklab.lab.stability_live", "knee"),
    "herd_live": ("hooklab.lab.stability_live", "herd_live"),
    "cpu_per_change": ("hooklab.lab.stability_live", "cpu_per_change"),
    "knee_plot": ("hooklab.lab.plots_stability", "knee"),
    "postgres_installed": ("hooklab.lab.fleet", "postgres_installed"),
    "fleet_scaling": ("hooklab.lab.fleet", "fleet_scaling"),
    "fleet_under_fire": ("hooklab.lab.fleet", "fleet_under_fire"),
    "POSTGRES_INSTALL_HINT": ("hooklab.live.postgres_server", "INSTALL_HINT"),
    "arrivals_plot": ("hooklab.lab.plots_stability", "arrivals"),
    "SCHEMES": ("hooklab.core.schemes", "SCHEMES"),
    "stripe_sender": ("hooklab.lab.real_peers", "stripe_sender"),
    "stripe_outage": ("hooklab.lab.real_peers", "stripe_outage"),
    "github_octokit": ("hooklab.lab.real_peers", "github_octokit"),
    "standard_library": ("hooklab.lab.real_peers", "standard_library"),
    "relay_table": ("hooklab.lab.real_peers", "relay_table"),
    "js_reserialise": ("hooklab.lab.real_peers", "js_reserialise"),
}

__all__ = list(_WHERE)


def __getattr__(name: str):
    """Load ``name`` from where it lives, the first time it is asked for."""
    try:
        module, attribute = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module 'hooklab.lab' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # once loaded, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
