"""HTTP plumbing shared by both mock systems: JSON errors, bounded bodies, the request log.

Kept apart from the apps so :mod:`hooklab.provider_app` and :mod:`hooklab.shop_app` stay about
their own routes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping

import httpx
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hooklab.errors import MAX_BODY_BYTES, ApiError
from hooklab.requestlog import RequestLog

#: Our clients name themselves in this header so the receiver's log knows who called.
SENDER_HEADER = "Hooklab-Sender"


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refusing (413) anything larger than ``limit`` without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "body_too_large", f"body is {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> object:
    """Parse a request body as JSON or raise a 400 that says where it broke."""
    if not body:
        raise ApiError(400, "malformed_json", "body is empty; send a JSON object")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ApiError(400, "malformed_json", f"body is not valid JSON: {err}") from None


async def api_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ApiError):
        return JSONResponse(exc.to_dict(), status_code=exc.status)
    if isinstance(exc, HTTPException):
        code = {404: "unknown_route", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        allowed = (exc.headers or {}).get("Allow", "")
        message = {
            404: f"no route {request.method} {request.url.path}; see the README for the API",
            405: f"{request.method} is not allowed on {request.url.path}; use {allowed or 'another method'}",
        }.get(exc.status_code, str(exc.detail))
        return JSONResponse(
            ApiError(exc.status_code, code, message).to_dict(),
            status_code=exc.status_code,
            headers=exc.headers,
        )
    # A bug of ours: still JSON, still says what to do.
    err = ApiError(500, "internal_error", f"{type(exc).__name__}: {exc}; please report this as a hooklab bug")
    return JSONResponse(err.to_dict(), status_code=500)


EXCEPTION_HANDLERS = {ApiError: api_error, HTTPException: api_error, Exception: api_error}


def mark(request: Request, kind: str, news: bool | None = None) -> None:
    """Tell the request log what this request was for and whether it carried news."""
    request.state.kind = kind
    request.state.news = news


class RequestLogMiddleware:
    """Pure ASGI middleware: one ``in`` row per served request, with status, bytes, duration."""

    def __init__(self, app: ASGIApp, log: RequestLog, name: str, clock) -> None:
        self.app, self.log, self.name, self.clock = app, log, name, clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        started_at, t0 = self.clock.now(), time.perf_counter()
        size = 0
        status: int | None = None
        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            state = scope["state"]
            headers = dict(scope.get("headers") or [])
            self.log.record(
                time=started_at,
                direction="in",
                sender=headers.get(SENDER_HEADER.lower().encode(), b"client").decode("latin-1"),
                receiver=self.name,
                kind=state.get("kind", "other"),
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_s=time.perf_counter() - t0,
                bytes=size,
                news=state.get("news"),
            )

        async def counting_receive() -> Message:
            nonlocal size
            message = await receive()
            size += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            nonlocal size, status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
                if not message.get("more_body", False):
                    # log before the last byte leaves: whoever reads the response finds the row
                    record()
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            record()


def request_size(request: httpx.Request, response: httpx.Response | None) -> int:
    return len(request.content) + (len(response.content) if response is not None else 0)


def record_sent(
    log: RequestLog,
    request: httpx.Request,
    response: httpx.Response | None,
    *,
    receiver: str,
    kind: str,
    started_at: float,
    duration_s: float,
    news: bool | None = None,
) -> None:
    """Write the ``out`` row for one request this system sent (``response`` ``None``: no answer)."""
    log.record(
        time=started_at,
        direction="out",
        sender=log.observer,
        receiver=receiver,
        kind=kind,
        method=request.method,
        path=request.url.path,
        status=None if response is None else response.status_code,
        duration_s=duration_s,
        bytes=request_size(request, response),
        news=news,
    )


def logged_send(
    client: httpx.Client,
    log: RequestLog,
    *,
    receiver: str,
    kind: str,
    method: str,
    url: str,
    clock,
    json_body: object = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    news_of: Callable[[httpx.Response], bool | None] | None = None,
) -> httpx.Response | None:
    """Send one request (a JSON body, or raw ``content``) and log it as an ``out`` row.

    ``None`` if no response (server down). ``news_of(response)`` runs before the row is written,
    so the row can say whether the answer told the sender something new (a poll that found a
    change).
    """
    request = client.build_request(
        method, url, json=json_body, content=content, headers={SENDER_HEADER: log.observer, **(headers or {})}
    )
    started_at, t0 = clock.now(), time.perf_counter()
    try:
        response = client.send(request)
    except httpx.TransportError:
        response = None
    duration = time.perf_counter() - t0
    news = news_of(response) if (news_of is not None and response is not None) else None
    record_sent(
        log,
        request,
        response,
        receiver=receiver,
        kind=kind,
        started_at=started_at,
        duration_s=duration,
        news=news,
    )
    return response
