"""A fault-injecting proxy between B and A: what the network and a flaky A do to webhooks, on purpose.

B is told A lives at the proxy (A's ``--public-url``); the proxy forwards each delivery to A and,
with seeded probabilities, misbehaves the way real networks do:

- ``drop``: the delivery never reaches A (B gets ``502``);
- ``delay`` (up to ``max_delay_s``): held before it is forwarded, so deliveries overtake each other
  (reordering);
- ``duplicate``: forwarded twice (the second copy a little later);
- ``drop_reply``: forwarded, A answers, and the answer is lost: B gets ``502`` and sends again
  what A already has.

A that is down answers nothing: B gets ``502`` too. :attr:`FaultProxy.counts` says what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

#: Headers a proxy must not pass on (RFC 9110 7.6.1, and the ones httpx sets itself).
_HOP = frozenset({"host", "content-length", "connection", "keep-alive", "transfer-encoding", "upgrade"})


@dataclass(frozen=True)
class Faults:
    """Chances per delivery, each drawn independently."""

    drop: float = 0.1
    delay: float = 0.3
    max_delay_s: float = 0.5
    duplicate: float = 0.1
    drop_reply: float = 0.1

    def __post_init__(self) -> None:
        for name in ("drop", "delay", "duplicate", "drop_reply"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a chance in [0, 1], got {getattr(self, name)}")


class FaultProxy:
    """``app`` forwards every request to ``target`` (A's base URL), with :class:`Faults`."""

    def __init__(self, target: str, faults: Faults | None = None, *, seed: int = 0, timeout_s: float = 5.0):
        self.target = target.rstrip("/")
        self.faults = faults or Faults()
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self.timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None
        self._copies: set[asyncio.Task] = set()
        self.app = Starlette(routes=[Route("/{path:path}", self.forward, methods=["POST", "GET"])],
                             lifespan=self._lifespan)  # fmt: skip

    @contextlib.asynccontextmanager
    async def _lifespan(self, app):
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            self._client = client
            yield
            for task in list(self._copies):
                task.cancel()
            self._client = None

    async def _send(self, request: Request, body: bytes) -> httpx.Response | None:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        url = self.target + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        try:
            response = await self._client.request(request.method, url, content=body, headers=headers)
        except httpx.HTTPError:
            self.counts["a_unreachable"] += 1
            return None
        is_json = response.headers.get("content-type", "").startswith("application/json")
        if response.status_code == 200 and is_json and response.json().get("duplicate") is True:
            self.counts["a_saw_duplicate"] += 1
        return response

    async def _late_copy(self, request: Request, body: bytes, after_s: float) -> None:
        await asyncio.sleep(after_s)
        await self._send(request, body)

    async def forward(self, request: Request) -> Response:
        body = await request.body()
        f, rng = self.faults, self.rng
        # every draw made, whatever happens, so one seed gives one sequence of faults
        drop, delay, dup, lose = (rng.random() < p for p in (f.drop, f.delay, f.duplicate, f.drop_reply))
        held, copy_after = rng.uniform(0, f.max_delay_s), rng.uniform(0, f.max_delay_s)
        self.counts["requests"] += 1
        if drop:
            self.counts["dropped"] += 1
            return _failed("the fault proxy dropped this delivery")
        if delay:
            self.counts["delayed"] += 1
            await asyncio.sleep(held)
        if dup:
            self.counts["duplicated"] += 1
            task = asyncio.create_task(self._late_copy(request, body, copy_after))
            self._copies.add(task)
            task.add_done_callback(self._copies.discard)
        response = await self._send(request, body)
        if response is None:
            return _failed("A did not answer (down?)")
        if lose:
            self.counts["reply_dropped"] += 1
            return _failed("the fault proxy lost A's answer")
        return Response(response.content, status_code=response.status_code,
                        media_type=response.headers.get("content-type"))  # fmt: skip


def _failed(message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "proxy_fault", "message": message}}, status_code=502)
