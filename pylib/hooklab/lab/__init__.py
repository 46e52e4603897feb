"""What the notebooks call, from one place: ``from hooklab import lab``.

The two systems (live and in their cores), the simulation, the experiments and the plots the
series is built from. A notebook imports this module, and names from it, and nothing else of
hooklab's, so the notebooks never depend on where a name lives inside the package.
"""

from hooklab.core import signing
from hooklab.core.adaptive import estimate_rate
from hooklab.core.clock import ManualClock
from hooklab.core.contract import SIGNATURE_HEADER, WEBHOOK_PATH
from hooklab.core.provider import DEFAULT_RETRY_SCHEDULE, PaymentProvider, SettlementModel
from hooklab.core.retry import POLICIES
from hooklab.core.shop import Shop
from hooklab.core.signing import (
    DEFAULT_TOLERANCE,
    REASONS,
    sign_github,
    sign_standard,
    sign_stripe,
    standard_headers,
    verify_github,
    verify_standard,
    verify_stripe,
)
from hooklab.lab.answers import check_answer, worked_solution
from hooklab.lab.attacks import (
    ATTACKER,
    DESCRIPTIONS,
    attack_requests,
    compare_timings,
    late_replays,
    live_pair,
    replay_window,
    run_attacks,
    verdict,
    with_timestamp,
)
from hooklab.lab.backoff import STRATEGIES as BACKOFF_STRATEGIES
from hooklab.lab.backoff import share_one_quota
from hooklab.lab.chaos import chaos_run
from hooklab.lab.crash_between import one_or_two_transactions
from hooklab.lab.demos import attempt_times, delivery_attempts, first_attempt_after, webhook_pair
from hooklab.lab.experiments import (
    GITHUB_RATE_LIMIT_PER_HOUR,
    RESTHOOKS_WASTED_SHARE,
    compare,
    live_frames,
    max_records_under_limit,
    min_interval_under_limit,
    per_hour,
    point,
    requests_per_hour,
    scan,
    scenario_table,
    theory_check,
)
from hooklab.lab.plots_reliability import chaos_timeline, delivered_curves, retry_schedules
from hooklab.lab.plots_tradeoff import (
    freshness_curve,
    frontier,
    interval_explorer,
    interval_sweep,
    poll_timeline,
    rate_limit_latency,
    scaling,
)
from hooklab.lab.plotting import cast_diagram, pull_push_timelines, timeline, use_style
from hooklab.lab.pulling import budget_allocations, freshness_points, rate_limit_plan
from hooklab.lab.reliability import (
    ack_comparison,
    concurrent_duplicates,
    delivered_share,
    healthy_beside_dead,
    inbox_memory,
    ordering,
    reconcile_after_outage,
    recovery_demo,
    same_change_two_ids,
    schedules,
)
from hooklab.live.faultproxy import Faults
from hooklab.live.provider_app import DELIVERY_TIMEOUT_S, ProviderService
from hooklab.live.runs import run_live, wait_until
from hooklab.live.serving import serve
from hooklab.live.shop_app import ShopService
from hooklab.measure.summary import summarize
from hooklab.sim import simulate, sweep, theory_poll

__all__ = [
    "check_answer", "worked_solution",
    "ATTACKER", "DEFAULT_RETRY_SCHEDULE", "DEFAULT_TOLERANCE", "DELIVERY_TIMEOUT_S", "DESCRIPTIONS",
    "GITHUB_RATE_LIMIT_PER_HOUR", "REASONS", "RESTHOOKS_WASTED_SHARE", "SIGNATURE_HEADER", "WEBHOOK_PATH",
    "ManualClock", "PaymentProvider", "ProviderService", "SettlementModel", "Shop", "ShopService",
    "attack_requests", "attempt_times", "cast_diagram", "compare", "compare_timings", "delivery_attempts",
    "first_attempt_after", "frontier", "interval_explorer", "interval_sweep", "late_replays", "live_frames",
    "live_pair", "max_records_under_limit", "min_interval_under_limit", "per_hour", "point", "poll_timeline",
    "pull_push_timelines", "rate_limit_latency", "replay_window", "requests_per_hour", "run_attacks",
    "run_live", "scaling", "scan", "scenario_table", "serve", "sign_github", "sign_standard", "sign_stripe",
    "signing", "simulate", "standard_headers", "summarize", "sweep", "theory_check", "theory_poll",
    "timeline", "use_style", "verdict", "verify_github", "verify_standard", "verify_stripe", "wait_until",
    "webhook_pair", "with_timestamp",
    # notebook 05
    "POLICIES", "Faults", "ack_comparison", "chaos_run", "chaos_timeline", "concurrent_duplicates",
    "delivered_curves", "delivered_share", "healthy_beside_dead", "inbox_memory", "ordering",
    "recovery_demo", "retry_schedules", "schedules", "one_or_two_transactions", "reconcile_after_outage",
    "same_change_two_ids", "BACKOFF_STRATEGIES", "share_one_quota", "estimate_rate",
    # notebook 06
    "budget_allocations", "freshness_curve", "freshness_points", "rate_limit_plan",
]  # fmt: skip
