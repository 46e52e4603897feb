"""``hooklab``: run the two mock systems in a terminal, or compare pull and push in one command.

hooklab provider --port 8000 [--retries svix] [--db b.sqlite]   # System B, the payment provider
hooklab consumer --provider http://127.0.0.1:8000 --mode webhook --port 8001 [--db a.sqlite]
                 [--reconcile 30] [--on-event refetch] [--public-url URL]   # System A
hooklab demo --payments 30 --interval 1 [--json]  # both, live, poll vs webhook
hooklab simulate --mode poll --interval 10 --records 100 --rate 0.0167 --duration 3600 [--json]
                                                  # --mode poll|webhook|hybrid|feed
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hooklab.core.modes import SHOP_MODES, describe
from hooklab.live.store import SYNCHRONOUS
from hooklab.sim.choices import ENGINES, MODES, WORKLOADS

DEFAULT_PROVIDER_PORT = 8000
DEFAULT_CONSUMER_PORT = 8001


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _rate(text: str) -> float:
    """A rate as a number or a fraction: ``0.5``, ``1/60`` (one a minute)."""
    from fractions import Fraction

    try:
        value = float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"must be a number or a fraction such as 1/60, got {text}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


#: What ``--retries`` takes (provider and simulate alike).
RETRIES_HELP = "retry policy: fast, svix, standard, shopify, stripe, github, or waits such as 0.5,1,2"


def _retries(text: str):
    """A retry policy's name or a list of waits (``0.5,1,2``), checked now rather than in the server."""
    from hooklab.core.retry import retry_policy

    try:
        retry_policy(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _endpoint_rate(text: str) -> tuple[int, float]:
    """``N/S`` as ``(N, S)``, or argparse's error."""
    from hooklab.live.ratelimit import parse_rate

    try:
        return parse_rate(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _rate_limit(text: str) -> str:
    """``N/S`` checked, kept as text (B's rate limiter parses it itself)."""
    _endpoint_rate(text)
    return text


def _outages(text: str) -> list[tuple[float, float]]:
    """``START:DURATION[,START:DURATION...]`` in seconds."""
    out = []
    for part in text.split(","):
        start, sep, length = part.partition(":")
        try:
            pair = (float(start), float(length))
        except ValueError:
            pair = None
        if not sep or pair is None or pair[0] < 0 or pair[1] <= 0:
            raise argparse.ArgumentTypeError(f"an outage is START:DURATION in seconds (START >= 0, "
                                             f"DURATION > 0), e.g. 600:3600; got {part!r}")  # fmt: skip
        out.append(pair)
    return out


def format_table(columns: dict[str, dict], keys: Sequence[str]) -> str:
    """A plain aligned table: one row per key, one column per run."""
    names = list(columns)
    width = max(len(k) for k in keys)
    lines = [" " * width + "".join(f"{n:>14}" for n in names)]
    for key in keys:
        cells = []
        for name in names:
            value = columns[name].get(key)
            cells.append(
                f"{'-' if value is None else (f'{value:.3f}' if isinstance(value, float) else value):>14}"
            )
        lines.append(f"{key:<{width}}" + "".join(cells))
    return "\n".join(lines)


def _provider_answers(url: str) -> bool:
    """Whether System B answers ``GET /health`` at ``url`` within a second."""
    import httpx

    try:
        return httpx.get(url.rstrip("/") + "/health", timeout=1.0).status_code == 200
    except (httpx.HTTPError, httpx.InvalidURL):
        return False


def cmd_provider(args: argparse.Namespace) -> int:
    from hooklab.core.provider import SettlementModel
    from hooklab.live.provider_app import ProviderService
    from hooklab.live.serving import run

    if args.db and args.seeded_ids:
        print("error: --seeded-ids with --db would hand out the same ids again after a restart; "
              "use one or the other", file=sys.stderr)  # fmt: skip
        return 2
    service = ProviderService(
        seed=args.seed, settlement=SettlementModel(mean_s=args.settle_mean, min_s=min(0.2, args.settle_mean),
                                                   failure_share=args.failure_share),
        seeded_ids=args.seeded_ids, retry_schedule=args.retries, jitter=args.jitter,
        delivery_timeout_s=args.delivery_timeout, db_path=args.db, rate_limit=args.rate_limit,
        poll_interval_s=args.poll_interval, api_keys=args.api_key,
        endpoint_rate=args.endpoint_rate, recovery_spread_s=args.recovery_spread, scheme=args.scheme,
    )  # fmt: skip
    kept = f", state in {args.db}" if args.db else ", in memory"
    print(
        f"System B (payment provider) on http://127.0.0.1:{args.port}, retries {args.retries}{kept}  "
        "(Ctrl+C to stop)",
        file=sys.stderr,
    )
    try:
        run(service.app, args.port, log_level=args.log_level)
    finally:
        service.close()
    return 0


def cmd_consumer(args: argparse.Namespace) -> int:
    from hooklab.core.contract import check_webhook_url, webhook_url
    from hooklab.core.errors import ApiError
    from hooklab.live.serving import run
    from hooklab.live.shop_app import ShopService

    listen_url = f"http://127.0.0.1:{args.port}"
    # behind a proxy or a tunnel B reaches A at another URL than the one A listens on
    public_url = args.public_url or listen_url
    try:  # what B would refuse, refused here with B's own rule, before anything starts
        check_webhook_url(webhook_url(public_url))
    except ApiError as err:
        print(f"error: --public-url {public_url!r}: {err.message}", file=sys.stderr)
        return 2
    try:  # a --db server that does not answer is a sentence, not a traceback
        service = ShopService(
            args.provider, mode=args.mode, interval_s=args.interval, public_url=public_url, db_path=args.db,
            ack=args.ack, on_event=args.on_event, reconcile_s=args.reconcile, work_s=args.work, handlers=args.handlers,
            api_key=args.api_key, owns_url=True, max_backlog=args.max_backlog, sqlite_sync=args.sqlite_sync,
            workers=args.workers, scheme=args.scheme, secret=args.secret,
        )  # fmt: skip
    except ConnectionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except ValueError as err:  # a --secret the scheme cannot use
        print(f"error: --secret: {err}", file=sys.stderr)
        return 2
    if args.secret is not None:
        pass  # the sender issued the secret: A registers nowhere, so the sender need not answer now
    elif not _provider_answers(args.provider):
        start_b = f"start System B first (hooklab provider), or check --provider {args.provider}"
        if args.mode == "webhook" and not service.core.webhook_secrets:
            # A must register its URL with B before it can serve; without B that fails in uvicorn's
            # startup with a traceback, so say it plainly instead
            print(f"error: System B at {args.provider} is not answering, so A cannot register its "
                  f"webhook URL; {start_b}", file=sys.stderr)  # fmt: skip
            service.close()
            return 1
        print(f"warning: System B at {args.provider} is not answering yet; {start_b}", file=sys.stderr)
    elif args.mode == "webhook" and not service.core.webhook_secrets:
        try:  # here rather than in the server's start-up, so a refusal is a sentence, not a traceback
            service.register_webhook()
        except (ApiError, ConnectionError) as err:
            print(f"error: {err}", file=sys.stderr)
            service.close()
            return 1
    reached = f" (B reaches it at {public_url})" if public_url != listen_url else ""
    every = f", reconciling every {args.reconcile:g} s" if args.reconcile else ""
    every += f", {args.scheme} scheme" if args.scheme != "hooklab" else ""
    print(
        f"System A (shop) in {args.mode} mode on {listen_url}{reached}, provider {args.provider}{every}. "
        f'Create a payment with: curl -X POST {listen_url}/orders -H "Content-Type: application/json" '
        f'-d \'{{"amount": 1999, "currency": "eur"}}\' (or open {listen_url}/docs)',
        file=sys.stderr,
    )
    try:
        run(service.app, args.port, log_level=args.log_level, reuse_port=args.reuse_port)
    finally:
        service.close()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """One inbox worker of a receiver fleet: claims and applies what endpoint processes stored in a
    shared PostgreSQL database, until Ctrl+C or SIGTERM."""
    import signal

    from hooklab.live.fleet_worker import run_worker
    from hooklab.live.shop_app import ShopService
    from hooklab.live.store import is_postgres

    if not is_postgres(args.db):
        print("error: --db must be a postgresql:// URL: workers in processes of their own share a "
              "PostgreSQL database (with SQLite, hooklab consumer applies its inbox itself)", file=sys.stderr)  # fmt: skip
        return 2
    try:
        service = ShopService(args.provider, mode="webhook", ack="inbox", db_path=args.db, workers=0)
    except ConnectionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: service.ctx.stop.set())
    print(f"hooklab worker on {args.db.split('@')[-1]}: applying A's inbox (Ctrl+C to stop)", file=sys.stderr)
    try:
        applied = run_worker(service, work_s=args.work, idle_s=args.idle)
    finally:
        service.close()
    print(f"hooklab worker: {applied} events applied", file=sys.stderr)
    return 0


def _worker_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", required=True, help="A's PostgreSQL database, postgresql://user@host/db")
    p.add_argument(
        "--provider",
        default="http://127.0.0.1:8000",
        help="System B's base URL (unused unless a handler asks B)",
    )
    _option(p, "--work", float, 0.0, "seconds of work per event (a handler's I/O, for experiments)")
    _option(p, "--idle", _positive_float, 0.1, "seconds to wait when the inbox is empty")


def cmd_demo(args: argparse.Namespace) -> int:
    import json

    from hooklab.live.runs import run_live
    from hooklab.measure.summary import SUMMARY_KEYS

    progress = None if args.json else (lambda message: print(message, file=sys.stderr))
    results = {}
    for mode in ("poll", "webhook"):
        run = run_live(
            mode,
            payments=args.payments,
            interval_s=args.interval,
            seed=args.seed,
            progress=progress,
        )
        if not run.consistent:
            print(
                f"error: after the {mode} run A's view differs from B's; this is a bug",
                file=sys.stderr,
            )
            return 1
        results[mode] = run.summary
    if args.json:
        print(json.dumps(results, sort_keys=True))
    else:
        print(f"\n{args.payments} payments, polling every {args.interval} s, live over 127.0.0.1")
        print(format_table(results, SUMMARY_KEYS))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    import json

    from hooklab.sim import SIM_SUMMARY_KEYS, simulate
    from hooklab.sim.run import DEFAULT_RECONCILE_S

    run = simulate(
        args.mode,
        interval_s=args.interval,
        records=args.records,
        rate_per_s=args.rate,
        duration_s=args.duration,
        seed=args.seed,
        workload=args.workload,
        delay_s=args.delay,
        failure_prob=args.failure_prob,
        reconcile_s=args.reconcile,
        engine=args.engine,
        retry_schedule=args.retries,
        outages=args.outage,
        reply_loss_prob=args.reply_loss,
    )
    if args.json:
        print(json.dumps(run.summary, sort_keys=True))
    else:
        how = describe(args.mode, interval_s=args.interval, reconcile_s=args.reconcile or DEFAULT_RECONCILE_S)
        if args.mode == "webhook" and args.reconcile:
            how += f" + reconciling GET /events every {args.reconcile:g} s"
        down = "".join(f", A down {a:g} s for {d:g} s" for a, d in args.outage)
        print(
            f"{args.records} records ({args.workload}, {args.rate:g} changes/s each), {how}, "
            f"retries {args.retries}{down}, "
            f"{run.params['duration_s']:g} simulated seconds, seed {args.seed}, {run.engine} engine"
        )
        print(format_table({args.mode: run.summary}, SIM_SUMMARY_KEYS))
    return 0


def _option(p: argparse.ArgumentParser, flag: str, kind, default, help: str) -> None:
    """One ``--flag`` whose help ends with its default (every option says what it is by default)."""
    p.add_argument(flag, type=kind, default=default, help=f"{help} (default %(default)s)")


def _scheme_option(p: argparse.ArgumentParser, what: str) -> None:
    from hooklab.core.schemes import SCHEMES

    p.add_argument(
        "--scheme", choices=list(SCHEMES), default="hooklab",
        help=f"{what}: hooklab (Hooklab-Signature), stripe (Stripe-Signature, indented JSON), github "
        "(X-Hub-Signature-256, no timestamp), standard (Standard Webhooks' webhook-* headers) (default %(default)s)",
    )  # fmt: skip


def _provider_options(p: argparse.ArgumentParser) -> None:
    _option(p, "--port", int, DEFAULT_PROVIDER_PORT, "port on 127.0.0.1")
    _option(p, "--seed", int, 0, "seed for settlement times (and ids, with --seeded-ids)")
    p.add_argument(
        "--seeded-ids", action="store_true",
        help="draw ids from the seed too, for a reproducible demo; by default ids are unique across "
        "runs, so a restarted B never hands out an id A already knows. Secrets never come from the seed",
    )  # fmt: skip
    _option(p, "--settle-mean", _positive_float, 2.0, "mean seconds until a payment settles")
    _option(p, "--failure-share", _share, 0.1, "share of payments that fail, 0..1")
    _option(p, "--retries", _retries, "fast", "webhook " + RETRIES_HELP)
    _option(p, "--jitter", _share, 0.0, "spread each retry wait by up to this fraction, 0..1")
    _option(p, "--delivery-timeout", _positive_float, 5.0, "seconds B waits for A to answer a delivery")
    p.add_argument(
        "--endpoint-rate", type=_endpoint_rate, default=None, metavar="N/S",
        help="at most N delivery attempts per S seconds to each endpoint (Svix-style throttling), so a "
        "backlog drains at a pace its receiver can take (default: no limit)",
    )  # fmt: skip
    _option(p, "--recovery-spread", float, 0.0,
            "seconds over which a recovered endpoint's backlog is released, at random moments")  # fmt: skip
    p.add_argument(
        "--rate-limit", type=_rate_limit, default=None, metavar="N/S",
        help="at most N requests per S seconds per client (an --api-key it sends as Bearer, else its "
        "address); over it: 429 with Retry-After; a 304 for a tag it had does not count (default: no limit)",
    )  # fmt: skip
    p.add_argument(
        "--api-key", action="append", default=[], metavar="KEY",
        help="an API key B knows (repeat for more): a client sending it as Authorization: Bearer KEY has "
        "its own rate limit and its own places for long polls and streams; an unknown key gets 401 "
        "(default: none, every client is its address)",
    )  # fmt: skip
    _option(p, "--poll-interval", _positive_int, 60, "what GET /events says in X-Poll-Interval, seconds")
    _scheme_option(p, "how B lays out and signs its deliveries")
    p.add_argument(
        "--db", default=None,
        help="SQLite file where B keeps payments, events, endpoints and its delivery outbox, so a "
        "restart loses nothing (default: in memory)",
    )  # fmt: skip
    _option(p, "--log-level", str, "info", "uvicorn log level")


def _consumer_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", required=True, help="System B's base URL, e.g. http://127.0.0.1:8000")
    p.add_argument("--mode", choices=SHOP_MODES, required=True, help="how A learns of changes")
    _option(
        p,
        "--interval",
        _positive_float,
        1.0,
        "poll interval in seconds (poll, conditional, adaptive), or the feed's shortest pause",
    )
    _option(p, "--port", int, DEFAULT_CONSUMER_PORT, "port on 127.0.0.1")
    p.add_argument(
        "--db",
        default=None,
        help="SQLite file where A keeps payments, its inbox of event ids, fulfilments, its secret and "
        "its reconciliation cursor, so a restart loses nothing; or a postgresql://user@host/db URL, a "
        "database several A processes can share (default: in memory)",
    )
    p.add_argument(
        "--public-url", default=None,
        help="the URL B must use to reach A (a proxy or tunnel in front of A); A registers it and still "
        "listens on --port (default: http://127.0.0.1:PORT)",
    )  # fmt: skip
    p.add_argument(
        "--reconcile", type=_positive_float, default=None, metavar="S",
        help="every S seconds and at start-up, read B's GET /events after A's cursor, so nothing B "
        "failed to deliver is lost; also re-registers if B forgot A (default: off)",
    )  # fmt: skip
    p.add_argument(
        "--ack", choices=("inbox", "inline"), default="inbox",
        help="inbox: verify, store, answer 200, then apply in a worker; inline: apply before answering "
        "(default %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--on-event", choices=("apply", "refetch"), default="apply",
        help="apply the event's snapshot, or treat it as a hint and GET the payment from B "
        "(Stripe's advice) (default %(default)s)",
    )  # fmt: skip
    _option(p, "--work", float, 0.0, "seconds of work per event (a slow handler, for experiments)")
    p.add_argument(
        "--reuse-port", action="store_true",
        help="let several A processes listen on this port (Linux SO_REUSEPORT: the kernel spreads "
        "connections among them), endpoints of one fleet on one PostgreSQL --db",
    )  # fmt: skip
    p.add_argument(
        "--workers", type=int, choices=(0, 1), default=1,
        help="inbox workers in this process: 1, or 0 to serve the endpoint only (a fleet on one "
        "PostgreSQL --db, whose workers run as `hooklab worker`) (default %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--handlers", type=_positive_int, default=None, metavar="N",
        help="with --ack inline: at most N events worked on at once, the others wait (A's capacity is "
        "N / --work events a second) (default: 40, the thread pool's size)",
    )  # fmt: skip
    p.add_argument(
        "--max-backlog", type=_positive_int, default=None, metavar="N",
        help="back-pressure: with N events received and not yet applied, answer 503 with Retry-After "
        "and store nothing, so the sender slows down (default: no limit)",
    )  # fmt: skip
    p.add_argument(
        "--sqlite-sync", choices=SYNCHRONOUS, default="full",
        help="with --db: full syncs every commit to disk, so a 200 from A survives a power cut; normal "
        "survives A's crash but may lose the last commits if the machine goes down (default %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--api-key", default=None, metavar="KEY",
        help="an API key B was started with, sent as Authorization: Bearer KEY (default: none)",
    )  # fmt: skip
    _scheme_option(p, "the senders' format A verifies and reads; stripe also reconciles from GET /v1/events")
    p.add_argument(
        "--secret", default=None, metavar="SECRET",
        help="a signing secret the sender issued (localstripe's, GitHub's settings page): A trusts it "
        "and does not register with B (default: register with B and keep the secret it returns)",
    )  # fmt: skip
    _option(p, "--log-level", str, "info", "uvicorn log level")


def _demo_options(p: argparse.ArgumentParser) -> None:
    _option(p, "--payments", _positive_int, 20, "payments to create")
    _option(p, "--interval", _positive_float, 1.0, "poll interval in seconds")
    _option(p, "--seed", int, 0, "seed for amounts, ids and settlement times")
    p.add_argument(
        "--json", action="store_true", help='print one JSON object {"poll": {...}, "webhook": {...}}'
    )


def _simulate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--mode", choices=MODES, default="poll",
        help="how A learns of changes (feed: one GET /events for all records every --interval)",
    )  # fmt: skip
    _option(p, "--interval", _positive_float, 10.0, "poll (or feed) interval in seconds")
    _option(p, "--records", _positive_int, 100, "records A watches")
    _option(p, "--rate", _rate, "1/60", "changes per record per second, e.g. 1/60: one a minute")
    _option(p, "--duration", _positive_float, 3600.0, "simulated seconds")
    _option(p, "--seed", int, 0, "seed for every random draw")
    p.add_argument(
        "--workload", choices=WORKLOADS, default="poisson",
        help="when records change (default %(default)s; settlement: each settles once, as in demo)",
    )  # fmt: skip
    _option(p, "--delay", _positive_float, 0.001, "median one-way network delay, s")
    _option(p, "--failure-prob", _share, 0.0, "chance a webhook delivery attempt fails, 0..1")
    p.add_argument(
        "--reconcile", type=_positive_float, default=None, metavar="S",
        help="hybrid: poll every record every S s (default 600); webhook: read GET /events every S s, "
        "as hooklab consumer --reconcile does (default: off)",
    )  # fmt: skip
    _option(p, "--retries", _retries, "fast", "B's " + RETRIES_HELP)
    p.add_argument(
        "--outage", type=_outages, default=(), metavar="START:DURATION[,...]",
        help="A is down from START for DURATION seconds (from the window's start), e.g. 600:7200,9000:60",
    )  # fmt: skip
    _option(p, "--reply-loss", _share, 0.0, "chance that A's 200 to a delivery is lost on the way back, 0..1")
    p.add_argument(
        "--engine", choices=ENGINES, default="auto",
        help="auto: numpy's vector engine where it applies, else the event engine; the same result",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def _chaos_options(p: argparse.ArgumentParser) -> None:
    _option(p, "--payments", _positive_int, 200, "payments to create")
    _option(p, "--kills", int, 6, "times A is killed with SIGKILL")
    _option(p, "--seed", int, 0, "seed for the faults and the kills")


def cmd_chaos(args: argparse.Namespace) -> int:
    from hooklab.lab.chaos import report

    return report(payments=args.payments, kills=args.kills, seed=args.seed)


#: Each command: what ``add_parser`` says of it, what adds its options, what runs it.
COMMANDS = {
    "provider": (
        dict(help="run System B, the payment provider", description=cmd_provider.__doc__),
        _provider_options,
        cmd_provider,
    ),
    "consumer": (
        dict(help="run System A, the shop, in poll or webhook mode"),
        _consumer_options,
        cmd_consumer,
    ),
    "worker": (
        dict(
            help="one inbox worker process of a receiver fleet on PostgreSQL", description=cmd_worker.__doc__
        ),
        _worker_options,
        cmd_worker,
    ),
    "demo": (dict(help="run B and A live, in poll then webhook mode, and compare"), _demo_options, cmd_demo),
    "simulate": (
        dict(
            help="simulate hours of polling or webhook traffic in virtual time (deterministic)",
            description="Run System A and System B's cores in virtual time and print what it cost: "
            "requests, empty responses, detection latency, load on B. Same arguments, same output.",
        ),
        _simulate_options,
        cmd_simulate,
    ),
    "chaos": (
        dict(
            help="a fault-injection run: B and A processes, a fault proxy, A killed with SIGKILL; "
            "prints the figures and fails if anything was lost or fulfilled twice"
        ),  # fmt: skip
        _chaos_options,
        cmd_chaos,
    ),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``hooklab`` parser; with ``only``, the options of that command alone (what ``main`` needs,
    so ``hooklab X --help`` does not pay for the other commands' options)."""
    parser = argparse.ArgumentParser(prog="hooklab", description="API polling versus webhooks, measured.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (names, add_options, run) in COMMANDS.items():
        command = sub.add_parser(name, **names)
        command.set_defaults(func=run)
        if only in (None, name):
            add_options(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command if command in COMMANDS else None).parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
