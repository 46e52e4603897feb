"""B's rate limit (``hooklab provider --rate-limit N/S``): N requests per S seconds per client.

A client is an API key B was started with (``--api-key``), sent as ``Authorization: Bearer <key>``,
else its address: a key B never issued is refused (401), so inventing keys buys no quota. On
127.0.0.1 every program shares one address, so without keys they share one quota: real providers
key limits by authenticated API key only (Stripe's secret keys, GitHub's tokens). Every answer
carries the quota, in GitHub's headers (``X-RateLimit-Limit``, ``-Remaining``, ``-Reset`` as Unix
seconds, https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api) and in the
IETF draft's (``RateLimit-Policy: "default";q=N;w=S`` and ``RateLimit: "default";r=R;t=T``,
draft-ietf-httpapi-ratelimit-headers-11, 2026). Over the limit: ``429`` with ``Retry-After`` and a
JSON error. A ``304 Not Modified`` does not count against the quota, as at GitHub ("making a
conditional request does not count against your primary rate limit if a 304 response is
returned"). Fixed windows from the maintained ``limits`` package.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond, storage, strategies
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hooklab.core.errors import ApiError

#: Paths no quota applies to: the health check and the self-description.
EXEMPT = ("/health", "/docs", "/openapi.json", "/static-offline-docs")


def parse_rate(text: str) -> tuple[int, float]:
    """``"N/S"`` (N requests per S seconds) -> ``(N, S)``; ``ValueError`` with what to write."""
    count, sep, seconds = text.partition("/")
    try:
        n, s = int(count), float(seconds)
    except ValueError:
        n, s = 0, 0.0
    if not sep or n < 1 or not s > 0 or s != int(s):
        raise ValueError(
            f"a rate limit is N/S: N >= 1 requests per S whole seconds, e.g. 5000/3600; got {text!r}"
        )
    return n, s


def client_key(scope: Scope, api_keys: frozenset[str]) -> str | None:
    """Who is asking: ``"key:<key>"`` for a key B knows, ``"addr:<address>"`` for a request without
    one, ``None`` for a key B never issued."""
    headers = dict(scope.get("headers") or [])
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        key = auth[7:].strip()
        return "key:" + key if key in api_keys else None
    client = scope.get("client") or ("unknown", 0)
    return "addr:" + str(client[0])


class ApiKeyMiddleware:
    """Refuse (401) a Bearer key B was not started with, before anything counts it; put the
    client's key (:func:`client_key`) in ``scope["state"]["client"]`` for the rest."""

    def __init__(self, app: ASGIApp, api_keys: frozenset[str]) -> None:
        self.app, self.api_keys = app, api_keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = client_key(scope, self.api_keys)
        if key is None:
            err = ApiError(401, "unknown_api_key", "B issued no such API key: send a key B was started "
                           "with (hooklab provider --api-key KEY), or none (your address is then your quota)")  # fmt: skip
            await JSONResponse(err.to_dict(), status_code=401)(scope, receive, send)
            return
        scope.setdefault("state", {})["client"] = key
        await self.app(scope, receive, send)


def _free_if_not_modified(scope: Scope) -> bool:
    """A request whose ``304`` is free: it names a tag it has (``If-None-Match: *`` names none, and
    would otherwise make every existing resource an unlimited free answer)."""
    tags = dict(scope.get("headers") or []).get(b"if-none-match", b"").strip()
    return bool(tags) and tags != b"*"


class RateLimitMiddleware:
    """Pure ASGI: counts each client's requests per window and refuses the ones over the limit."""

    def __init__(self, app: ASGIApp, limit: int, window_s: float) -> None:
        self.app, self.limit, self.window_s = app, limit, int(window_s)
        self.item = RateLimitItemPerSecond(limit, self.window_s)
        self.limiter = strategies.FixedWindowRateLimiter(storage.MemoryStorage())

    def headers(self, key: str) -> tuple[dict[str, str], int]:
        """The quota headers for ``key``, and the seconds until its window resets."""
        stats = self.limiter.get_window_stats(self.item, key)
        reset_in = max(0, math.ceil(stats.reset_time - time.time()))
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(stats.remaining),
            "X-RateLimit-Reset": str(math.ceil(stats.reset_time)),
            "RateLimit-Policy": f'"default";q={self.limit};w={self.window_s}',
            "RateLimit": f'"default";r={stats.remaining};t={reset_in}',
        }, reset_in

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT):
            await self.app(scope, receive, send)
            return
        key = scope.get("state", {}).get("client") or client_key(scope, frozenset())
        conditional = _free_if_not_modified(scope)
        # counted when it arrives, so requests held open (long polls) cannot pass the limit together;
        # a conditional one when it is answered, since its 304 is free
        admitted = self.limiter.test(self.item, key) if conditional else self.limiter.hit(self.item, key)
        if not admitted:
            headers, reset_in = self.headers(key)
            retry = max(1, reset_in)
            err = ApiError(429, "rate_limited", f"over {self.limit} requests per {self.window_s} s for this "
                           f"client; wait {retry} s (Retry-After), or send If-None-Match: a 304 is free")  # fmt: skip
            response = JSONResponse(
                err.to_dict(), status_code=429, headers={**headers, "Retry-After": str(retry)}
            )
            await response(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                if conditional and message["status"] != 304:  # a 304 for a tag it had is free
                    self.limiter.hit(self.item, key)
                extra = [(k.lower().encode(), v.encode()) for k, v in self.headers(key)[0].items()]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, counting_send)
