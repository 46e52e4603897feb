"""A's webhook endpoint at B: registering it, checking B still knows it, and leaving.

A registers the URL it is reached at and trusts the secret B returns; it finds its endpoint again
by the id B gave it (B's listing hides credentials in a URL). An A that owns its URL (``hooklab
consumer``) replaces any endpoint an earlier A left there, and an A without a database deletes its
own when it stops: its secret goes with it.
"""

from __future__ import annotations

import contextlib

import httpx

from hooklab.core.contract import WEBHOOK_ENDPOINTS_PATH, redact_url, webhook_url
from hooklab.core.errors import ApiError
from hooklab.live.shop_context import ShopContext


class Registration:
    """A's endpoint at B. ``public_url``: where B reaches A (a base URL, or a full webhook URL)."""

    def __init__(self, ctx: ShopContext, public_url: str | None = None, *, owns_url: bool = False) -> None:
        self.ctx, self.public_url, self.owns_url = ctx, public_url, owns_url
        self.registrations = 0  # how many times A registered (a restarted B: once more)

    def register(self, public_url: str | None = None) -> dict:
        """Register A's webhook URL with B and trust the secret B returns. ``public_url``: the URL A
        is served at (A's webhook path is added), or a full webhook URL with a path of its own (a
        proxy's, kept as given). B refusing the URL raises :class:`ApiError` with B's reason."""
        ctx = self.ctx
        given = public_url or self.public_url
        if not given:
            raise ValueError("register_webhook needs the URL A is served at, e.g. 'http://127.0.0.1:8001'")
        url = webhook_url(given)
        if self.owns_url:
            self._drop_earlier_endpoints(url)
        response = ctx.send("register", "POST", WEBHOOK_ENDPOINTS_PATH, json_body={"url": url})
        if response is not None and response.status_code == 422:
            reason = response.json().get("error", {}).get("message", response.text)
            raise ApiError(422, "webhook_url_refused", f"System B refused the webhook URL {url!r}: {reason}")
        if response is None or response.status_code != 201:
            detail = "no answer" if response is None else response.text
            raise ConnectionError(f"could not register the webhook endpoint with System B: {detail}")
        endpoint = response.json()
        with ctx.lock:
            ctx.core.add_webhook_secret(endpoint["secret"])
            ctx.core.meta["endpoint_url"] = url
            ctx.core.meta["endpoint_id"] = endpoint["id"]
            self.registrations += 1
        return endpoint

    def _drop_earlier_endpoints(self, url: str) -> None:
        """Delete B's endpoints at this URL: only an earlier A can have registered them (one process
        listens on a URL), and a new registration means that A's secret is gone, so every delivery
        to them would fail signature checks for as long as B kept trying."""
        response = self.ctx.send("view", "GET", WEBHOOK_ENDPOINTS_PATH)
        if response is None or response.status_code != 200:
            return
        for endpoint in response.json().get("data", []):
            if endpoint.get("url") == redact_url(url):
                self.forget(endpoint["id"])

    def forget(self, endpoint_id: str) -> None:
        """Ask B to delete one of A's endpoints (``DELETE /webhook-endpoints/{id}``)."""
        self.ctx.send("register", "DELETE", f"{WEBHOOK_ENDPOINTS_PATH}/{endpoint_id}")

    def leave(self) -> None:
        """An A without a database takes its secret with it: if it owns its URL, it asks B to delete
        its endpoint (once), so B does not keep sending what nobody can verify."""
        ctx = self.ctx
        endpoint_id = ctx.core.meta.get("endpoint_id")
        if self.owns_url and ctx.store is None and endpoint_id is not None:
            with contextlib.suppress(httpx.HTTPError):
                self.forget(endpoint_id)
            ctx.core.meta.pop("endpoint_id", None)

    def ensure(self) -> str:
        """Check that B knows A's endpoint: ``"ok"``; ``"registered"`` if B had forgotten it (a
        restarted B without ``--db``) and A registered again; ``"recovered"`` if B had disabled it
        and A asked B to re-send what failed since the last reconciliation; ``"unknown"`` if B did not
        answer."""
        ctx = self.ctx
        url = ctx.core.meta.get("endpoint_url") or (webhook_url(self.public_url) if self.public_url else None)
        if url is None:
            return "unknown"
        response = ctx.send("view", "GET", WEBHOOK_ENDPOINTS_PATH)
        if response is None or response.status_code != 200:
            return "unknown"
        # by the id B gave A (B's listing hides credentials in a URL, so the URL may not match)
        known_id = ctx.core.meta.get("endpoint_id")
        mine = [e for e in response.json()["data"]
                if e["id"] == known_id or (known_id is None and e["url"] == redact_url(url))]  # fmt: skip
        if not mine:
            self.register(url)
            return "registered"
        if not any(e.get("enabled", True) for e in mine):
            since = float(ctx.core.meta.get("reconciled_at", "0"))
            ctx.send("recover", "POST", f"{WEBHOOK_ENDPOINTS_PATH}/{mine[-1]['id']}/recover",
                     json_body={"since": since})  # fmt: skip
            return "recovered"
        return "ok"
