"""Real peers nobody at hooklab wrote: localstripe (a Stripe-compatible fake server, PyPI), GitHub's
own signer and verifier (@octokit/webhooks, npm) and a relay developers use for local webhooks
(smee-client, npm), each in a process of its own on 127.0.0.1, started and ended here by its pid.

The npm packages live in ``peers/node`` (pinned by its ``package-lock.json``; ``make peers``
installs them, ``.ci/run`` too). :func:`missing_node_peers` says what is missing instead of failing.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from hooklab.core.contract import WEBHOOK_ENDPOINTS_PATH, WEBHOOK_PATH
from hooklab.core.provider import SettlementModel, make_event
from hooklab.core.schemes import SCHEMES
from hooklab.lab.pair import RecordingApp, webhook_pair
from hooklab.live.processes import Child, free_port, wait_started
from hooklab.live.provider_app import ProviderService
from hooklab.live.runs import wait_until
from hooklab.live.serving import serve
from hooklab.live.shop_app import ShopService

if TYPE_CHECKING:
    import pandas as pd

#: The npm project of the Node peers (in the repository, beside ``pylib/``).
NODE_PEERS = Path(__file__).resolve().parents[3] / "peers" / "node"
INSTALL_HINT = "install them with `make peers` (Node 20 and npm: `apt-get install nodejs npm`)"
START_TIMEOUT_S = 20.0

#: Test card numbers localstripe knows, as Stripe documents them: one that pays, and one that can be
#: attached to a customer but whose charge is declined.
CARD_OK, CARD_DECLINED = "4242424242424242", "4000000000000341"
#: Payments that settle in a few tenths of a second, all paid: the peers' demos wait for nothing else.
QUICK = SettlementModel(mean_s=0.3, min_s=0.1, failure_share=0.0)
#: A key localstripe accepts (any ``sk_...``); nothing here reaches Stripe.
LOCALSTRIPE_KEY = "sk_test_hooklab"


def missing_node_peers() -> str | None:
    """Why the Node peers cannot run here (``None``: they can)."""
    if shutil.which("node") is None:
        return f"Node.js is not installed; {INSTALL_HINT}"
    for package in ("@octokit/webhooks", "smee-client", "undici"):
        if not (NODE_PEERS / "node_modules" / package / "package.json").exists():
            return f"the npm package {package} is not in {NODE_PEERS}/node_modules; {INSTALL_HINT}"
    return None


def _require_node_peers() -> None:
    reason = missing_node_peers()
    if reason is not None:
        raise RuntimeError(reason)


def octokit(secret: str, *, verify: list[tuple[bytes, str]] = (), sign: list[bytes] = ()) -> dict:  # type: ignore[assignment]
    """Ask @octokit/webhooks, in one Node process: does each ``(body, X-Hub-Signature-256)`` of
    ``verify`` verify under ``secret``, and what does it sign each body of ``sign`` with?
    ``{"verified": [bool, ...], "signatures": ["sha256=...", ...], "version": "14.2.0"}``."""
    _require_node_peers()
    request = {
        "secret": secret,
        "verify": [{"body_b64": base64.b64encode(b).decode(), "signature": s} for b, s in verify],
        "sign": [base64.b64encode(b).decode() for b in sign],
    }
    done = subprocess.run(["node", str(NODE_PEERS / "octokit.mjs")], input=json.dumps(request), text=True,
                          capture_output=True, timeout=60, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"@octokit/webhooks failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


#: What a relay channel and smee-client do to a body, in JavaScript itself: JSON.parse, then
#: JSON.stringify (base64 lines in, a JSON list of base64 out, so every byte is kept).
_JS_REPARSE = (
    "const lines = require('fs').readFileSync(0, 'utf8').split('\\n').filter(Boolean);"
    "const again = lines.map((b64) => Buffer.from(JSON.stringify(JSON.parse("
    "Buffer.from(b64, 'base64').toString('utf8')))).toString('base64'));"
    "process.stdout.write(JSON.stringify(again));"
)


def js_reserialise(bodies: list[bytes]) -> list[bytes]:
    """Each body as JavaScript writes it again after parsing it (``JSON.stringify(JSON.parse(body))``,
    what smee-client's relay does to a delivery), run by Node."""
    if shutil.which("node") is None:
        raise RuntimeError(f"Node.js is not installed; {INSTALL_HINT}")
    stdin = "".join(base64.b64encode(body).decode() + "\n" for body in bodies)
    done = subprocess.run(["node", "-e", _JS_REPARSE], input=stdin, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"node could not re-serialise the bodies: {done.stderr[-2000:]}")
    return [base64.b64decode(b64) for b64 in json.loads(done.stdout)]


@dataclass
class Relay:
    """A running relay: deliver to ``channel``; ``forwarded`` are the target's answers, in order."""

    channel: str
    forwarded: list[int] = field(default_factory=list)


@contextlib.contextmanager
def relay(target: str, *, keep_raw: bool = False) -> Iterator[Relay]:
    """Run ``peers/node/relay.mjs``: a smee.io-style channel and the real smee-client forwarding
    to ``target``; with ``keep_raw`` the raw bytes are forwarded instead of re-serialised JSON."""
    _require_node_peers()
    args = ["node", str(NODE_PEERS / "relay.mjs"), "--target", target, *(["--keep-raw"] if keep_raw else [])]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, name="hooklab-relay-reader", daemon=True).start()
    try:
        first = lines.get(timeout=START_TIMEOUT_S)
        if first is None:
            raise RuntimeError(f"the relay stopped while starting: {proc.stderr.read()[-2000:]}")  # type: ignore[union-attr]
        running = Relay(json.loads(first)["channel"])

        def collect() -> None:
            while (line := lines.get()) is not None:
                running.forwarded.append(json.loads(line)["forwarded"])

        threading.Thread(target=collect, name="hooklab-relay-answers", daemon=True).start()
        yield running
    finally:
        _end(proc)


@dataclass
class RelayedPair:
    """B delivering to A through a relay (:func:`relayed_pair`)."""

    provider: ProviderService
    shop: ShopService
    relay: Relay
    b_url: str
    recorder: RecordingApp
    sent: list[bytes] = field(default_factory=list)

    def pay(self, n: int = 3, timeout_s: float = 15.0) -> list[int]:
        """``n`` customers pay at B; wait until the relay forwarded each settlement; A's answers."""
        before = len(self.relay.forwarded)
        for _ in range(n):
            httpx.post(self.b_url + "/payments", json={"amount": 1999, "currency": "eur"}).raise_for_status()
        wait_until(
            lambda: len(self.relay.forwarded) >= before + n, timeout_s, f"the relay to forward {n} deliveries"
        )
        return self.relay.forwarded[before:]

    @property
    def received(self) -> list[bytes]:
        """The bodies A's endpoint received, in order (after the relay)."""
        return [request.body for request in self.recorder.captured]

    def delivered(self) -> list[bytes]:
        """The bodies B sent, in order (before the relay)."""
        with self.provider.lock:
            return [
                d.body for d in sorted(self.provider.core.deliveries.values(), key=lambda d: d.created_at)
            ]


@contextlib.contextmanager
def relayed_pair(scheme: str = "stripe", *, keep_raw: bool = False) -> Iterator[RelayedPair]:
    """B (payments settle in a few tenths of a second, no retries) and A in ``scheme``, B's deliveries going through
    :func:`relay` to A: what a developer gets by pointing a provider at a smee channel."""
    provider = ProviderService(scheme=scheme, retry_schedule=(), settlement=QUICK)
    with serve(provider.app) as b:
        shop = ShopService(b.url, mode="webhook", scheme=scheme)
        recorder = RecordingApp(shop.app)
        try:
            with serve(recorder) as a, relay(a.url + WEBHOOK_PATH, keep_raw=keep_raw) as running:
                endpoint = httpx.post(b.url + WEBHOOK_ENDPOINTS_PATH, json={"url": running.channel}).json()
                with shop.lock:
                    shop.core.add_webhook_secret(endpoint["secret"])
                yield RelayedPair(provider, shop, running, b.url, recorder)
        finally:
            shop.close()
            provider.close()


@dataclass
class LocalStripe:
    """A running localstripe: its ``url`` and what it logged (one line per delivery it tried)."""

    url: str
    log_path: Path

    def deliveries(self) -> list[str]:
        """localstripe's own lines about its webhook deliveries, e.g. ``webhook
        "payment_intent.succeeded" failed: Cannot connect to host ...``."""
        return [line for line in self.log_path.read_text().splitlines() if line.startswith('webhook "')]


@contextlib.contextmanager
def localstripe() -> Iterator[LocalStripe]:
    """Run localstripe (``python -m localstripe --from-scratch``) on a free port, until the block ends.

    It sends each event once, a second after it happens, to every endpoint configured with
    :func:`stripe_endpoint`, signed ``Stripe-Signature: t=..,v1=..``; it never retries. (It also
    saves its state to ``/tmp/localstripe.pickle``, which ``--from-scratch`` never reads back.)
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="hooklab-localstripe-") as folder:
        log_path = Path(folder) / "localstripe.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
                                    stdout=log, stderr=log)  # fmt: skip
        running = LocalStripe(f"http://127.0.0.1:{port}", log_path)
        try:
            wait_started(
                proc, lambda: _localstripe_answers(running.url), f"localstripe on {running.url}", log_path
            )
            yield running
        finally:
            _end(proc)


def _localstripe_answers(url: str) -> bool:
    try:
        httpx.get(url + "/v1/events", headers=_stripe_auth(), timeout=0.5)
    except httpx.TransportError:
        return False
    return True


def _stripe_auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {LOCALSTRIPE_KEY}"}


def stripe_endpoint(stripe_url: str, url: str, secret: str, name: str = "hooklab") -> None:
    """Tell localstripe to send PaymentIntent events to ``url``, signed with ``secret``."""
    events = ["payment_intent.succeeded", "payment_intent.payment_failed"]
    response = httpx.post(
        f"{stripe_url}/_config/webhooks/{name}", json={"url": url, "secret": secret, "events": events}
    )
    response.raise_for_status()


def stripe_payment(stripe_url: str, amount: int = 2500, *, card: str = CARD_OK) -> str:
    """A customer pays at localstripe with a test card; the PaymentIntent's id (``pi_...``).
    A declined card answers 402 at localstripe and still makes a ``payment_intent.payment_failed``
    event."""
    with httpx.Client(base_url=stripe_url, headers=_stripe_auth(), timeout=10) as client:
        method = client.post("/v1/payment_methods", data={
            "type": "card", "card[number]": card, "card[exp_month]": "12", "card[exp_year]": "2034",
            "card[cvc]": "123",
        })  # fmt: skip
        method.raise_for_status()
        intents = client.get("/v1/payment_intents", params={"limit": 100}).json()["data"]
        before = {intent["id"] for intent in intents}
        created = client.post("/v1/payment_intents", data={
            "amount": str(amount), "currency": "eur", "payment_method": method.json()["id"], "confirm": "true",
        })  # fmt: skip
        if created.status_code == 200:
            return created.json()["id"]
        # declined: localstripe answers with the card error, so find the new PaymentIntent by listing
        intents = client.get("/v1/payment_intents", params={"limit": 100}).json()["data"]
        new = [intent["id"] for intent in intents if intent["id"] not in before]
        if created.status_code != 402 or len(new) != 1:
            raise RuntimeError(f"localstripe answered {created.status_code}: {created.text[:500]}")
        return new[0]


def _end(proc: subprocess.Popen) -> None:
    """End a process started here, by its pid: SIGTERM, then SIGKILL after 5 s."""
    Child("", proc, Path(os.devnull)).stop()


# --- what notebook 03 shows -----------------------------------------------------------------------
def stripe_shop(stripe: LocalStripe, secret: str) -> ShopService:
    """A receiving in the ``stripe`` scheme with the secret given to ``stripe``, reconciling from it."""
    return ShopService(stripe.url, mode="webhook", scheme="stripe", secret=secret, api_key=LOCALSTRIPE_KEY)


def _new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def stripe_sender(paid: int = 3, declined: int = 1) -> dict:
    """localstripe takes ``paid`` payments and declines ``declined``; what A, in the ``stripe``
    scheme, verified, refused and recorded."""
    secret = _new_secret()
    with localstripe() as stripe:
        shop = stripe_shop(stripe, secret)
        try:
            with serve(shop.app) as a:
                stripe_endpoint(stripe.url, a.url + WEBHOOK_PATH, secret)
                for card in [CARD_OK] * paid + [CARD_DECLINED] * declined:
                    stripe_payment(stripe.url, card=card)
                wait_until(lambda: len(shop.snapshot()) == paid + declined, 15, "A to record every payment")
            statuses = [p["status"] for p in shop.snapshot().values()]
            return {
                "events localstripe sent": len(stripe.deliveries()),
                "verified by A": len(stripe.deliveries()) - len(shop.core.rejections),
                "refused by A": len(shop.core.rejections),
                "succeeded": statuses.count("succeeded"),
                "failed": statuses.count("failed"),
                "orders fulfilled": len(shop.fulfilment_rows()),
            }
        finally:
            shop.close()


def stripe_outage() -> dict:
    """localstripe sends one event while A is down, and never again; A reconciles from its
    ``GET /v1/events``. What A knew at each step."""
    secret = _new_secret()
    with localstripe() as stripe:
        shop = stripe_shop(stripe, secret)
        try:
            with serve(shop.app) as a:
                url, port = a.url, a.port
            stripe_endpoint(stripe.url, url + WEBHOOK_PATH, secret)  # A is down now
            missed = stripe_payment(stripe.url)
            wait_until(lambda: len(stripe.deliveries()) == 1, 15, "localstripe to try its delivery")
            with serve(shop.app, port=port):  # A is back at the same URL
                later = stripe_payment(stripe.url)
                wait_until(lambda: later in shop.snapshot(), 15, "the next event")
                knew_before = missed in shop.snapshot()
                new = shop.reconcile_once()
                wait_until(lambda: missed in shop.snapshot(), 15, "A to apply what it reconciled")
            return {
                "localstripe's attempts at the missed event": sum(
                    " failed" in line for line in stripe.deliveries()
                ),
                "A knew it before reconciling": knew_before,
                "new from GET /v1/events": new,
                "A knows it now": shop.snapshot()[missed]["status"],
                "new from a second reconciliation": shop.reconcile_once(),
                "orders fulfilled": len(shop.fulfilment_rows()),
            }
        finally:
            shop.close()


def github_octokit(payments: int = 4) -> dict:
    """B delivers in the ``github`` scheme; GitHub's @octokit/webhooks verifies each delivery (and
    one tampered copy), and signs events that A then receives."""
    with webhook_pair(scheme="github", settlement=QUICK) as pair:
        pair.checkout(payments)
        delivered = [(r.body, r.headers["x-hub-signature-256"]) for r in pair.captured]
        tampered = (delivered[0][0].replace(b"succeeded", b"succeedeD"), delivered[0][1])
        payment = {"amount": 700, "currency": "eur", "status": "succeeded", "version": 2}
        own = [SCHEMES["github"].encode(make_event(f"evt_octokit{i}", {"id": f"pay_octokit{i}", **payment}, 1.0))
               for i in range(3)]  # fmt: skip
        answer = octokit(pair.secret, verify=[*delivered, tampered], sign=own)
        accepted = sum(
            httpx.post(pair.webhook_url, content=body, headers={"X-Hub-Signature-256": sig}).status_code
            == 200
            for body, sig in zip(own, answer["signatures"], strict=True)
        )
        return {
            "B's deliveries": len(delivered),
            "verified by octokit": sum(answer["verified"][:-1]),
            "tampered copy verified": answer["verified"][-1],
            "events octokit signed": len(own),
            "accepted by A": accepted,
            "@octokit/webhooks": answer["version"],
        }


def standard_library(payments: int = 4) -> dict:
    """B delivers in the ``standard`` scheme; the ``standardwebhooks`` library (the specification's
    own) verifies each delivery, and refuses a copy with one byte added."""
    import standardwebhooks

    with webhook_pair(scheme="standard", settlement=QUICK) as pair:
        pair.checkout(payments)
        receiver = standardwebhooks.Webhook(pair.secret)

        def verifies(body: bytes, headers: dict) -> bool:
            try:
                receiver.verify(body, headers)
            except standardwebhooks.WebhookVerificationError:
                return False
            return True

        requests = [(r.body, dict(r.headers)) for r in pair.captured]
        return {
            "B's deliveries": len(requests),
            "verified by standardwebhooks": sum(verifies(b, h) for b, h in requests),
            "a byte added, verified": verifies(requests[0][0] + b" ", requests[0][1]),
        }


#: The relay runs :func:`relay_table` shows: (row, B's scheme, keep the raw bytes).
RELAY_RUNS = (
    ("stripe (indented JSON), re-serialised", "stripe", False),
    ("hooklab (compact JSON), re-serialised", "hooklab", False),
    ("stripe (indented JSON), raw bytes kept", "stripe", True),
)


def relay_table(payments: int = 3) -> tuple[pd.DataFrame, str]:
    """B's deliveries through the smee-client relay to A, three ways (:data:`RELAY_RUNS`): A's
    answers, whether A got the bytes B signed; and A's own words for its first refusal."""
    import pandas as pd

    rows, refusal = {}, ""
    for name, scheme_name, keep_raw in RELAY_RUNS:
        with relayed_pair(scheme_name, keep_raw=keep_raw) as run:
            answers = run.pay(payments)
            rows[name] = {
                "A answered": " ".join(map(str, answers)),
                "bytes intact": sorted(run.received) == sorted(run.delivered()),
                "A's reason": (run.shop.core.last_refusal or {}).get("reason", ""),
            }
            refusal = refusal or (run.shop.core.last_refusal or {}).get("message", "")
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("B's scheme, relay"), refusal
