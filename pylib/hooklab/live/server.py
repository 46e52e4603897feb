"""Server plumbing shared by both mock systems: one FastAPI app shape, JSON errors, bounded bodies.

:func:`make_app` builds an app the way both systems want it: OpenAPI at ``/openapi.json``,
interactive docs at ``/docs`` whose assets are served from this machine (fastapi-offline: no
request leaves it), the request log around everything, a body limit below it, and every error
as ``{"error": {"code", "message", ...}}`` with the right status, FastAPI's validation errors
included (the message names the field and says what it must be).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hooklab.core.clock import Clock
from hooklab.core.contract import HEALTH_PATH, MAX_BODY_BYTES, SENDER_HEADER
from hooklab.core.errors import ApiError
from hooklab.live.models import ErrorBody
from hooklab.measure.requestlog import RequestLog


class _BodyTooLarge(HTTPException):
    """Raised while a streamed body is read past the limit. An HTTPException, because FastAPI turns
    any other exception from reading a body into a 400 "error parsing the body"."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body is over the limit of {limit} bytes")


class BodyLimitMiddleware:
    """Refuse (413) any request body over ``limit`` bytes, without reading more than that.

    A declared ``Content-Length`` over the limit is refused before a byte is read; a streamed
    body is counted as it arrives and cut off at the limit.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None:
            if declared > self.limit:
                await self._refuse(send, f"body is {declared} bytes; the limit is {self.limit}")
            else:  # the HTTP parser reads no more than a declared length: nothing to count
                await self.app(scope, receive, send)
            return
        size = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal size
            message = await receive()
            size += len(message.get("body", b""))
            if size > self.limit:
                raise _BodyTooLarge(self.limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, watching_send)
        except _BodyTooLarge:
            if started:  # pragma: no cover - an app that answers before reading its body
                raise
            await self._refuse(send, f"body is over the limit of {self.limit} bytes")

    async def _refuse(self, send: Send, message: str) -> None:
        response = JSONResponse(ApiError(413, "body_too_large", message).to_dict(), status_code=413)
        await response({"type": "http"}, _nothing, send)


def _content_length(scope: Scope) -> int | None:
    """The request's declared ``Content-Length``, or ``None`` (a streamed body, or none declared)."""
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _nothing() -> Message:  # pragma: no cover - a JSONResponse never reads the request
    return {"type": "http.disconnect"}


class FastRoutes:
    """Pure ASGI middleware: a request for one of ``routes`` (``{(method, path): endpoint}``, an
    endpoint taking the :class:`Request` and returning the response) goes straight to its endpoint,
    past FastAPI's exception, exit-stack and routing layers, which such an endpoint does not use: A's
    webhook went from 37% to 41-47% of a bare Starlette app's rate (benchmarks/bench_receiver.py,
    medians of 3 rounds). The route stays registered with FastAPI, so /docs describes it; an
    exception still becomes our JSON error."""

    def __init__(self, app: ASGIApp, routes: dict[tuple[str, str], Callable]) -> None:
        self.app, self.routes = app, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = (
            self.routes.get((scope.get("method"), scope.get("path"))) if scope["type"] == "http" else None
        )
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:  # as the app's own handlers would answer it: JSON, never a traceback
            response = await api_error(request, exc)
        await response(scope, receive, send)


def mark(request: Request, kind: str, news: bool | None = None) -> None:
    """Tell the request log what this request was for and whether it carried news."""
    request.state.kind = kind
    request.state.news = news


#: The longest path and sender name a log row keeps (a client chooses both: up to the server's
#: request-line limit of tens of KB, on every row).
MAX_LOGGED_PATH = 256
MAX_LOGGED_SENDER = 64


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class RequestLogMiddleware:
    """Pure ASGI middleware: one ``in`` row per served request, with status, bytes, duration.

    A route says what a request was for with :func:`mark`; ``kinds`` (``{path: kind}``) names it
    for a request refused before any route saw it (a body over the limit).
    """

    def __init__(
        self, app: ASGIApp, log: RequestLog, name: str, clock: Clock, kinds: dict[str, str] | None = None
    ) -> None:
        self.app, self.log, self.name, self.clock = app, log, name, clock
        self.kinds = kinds or {}

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
                sender=_clip(
                    headers.get(SENDER_HEADER.lower().encode(), b"client").decode("latin-1"),
                    MAX_LOGGED_SENDER,
                ),
                receiver=self.name,
                kind=state.get("kind") or self.kinds.get(scope["path"], "other"),
                method=scope["method"],
                path=_clip(scope["path"], MAX_LOGGED_PATH),
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

        declared = _content_length(scope)
        if declared is not None:
            size = declared  # the parser reads exactly that many bytes: no need to count them
        try:
            await self.app(scope, receive if declared is not None else counting_receive, counting_send)
        finally:
            record()


# --- errors ----------------------------------------------------------------------------------
def _json_error(err: ApiError, headers: dict | None = None) -> JSONResponse:
    if "retry_after" in err.details:  # a 429 or 503 says when to come back, in the header too
        headers = {**(headers or {}), "Retry-After": str(err.details["retry_after"])}
    return JSONResponse(err.to_dict(), status_code=err.status, headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (FastAPI makes one route per method)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE and getattr(route, "methods", None):
            methods |= set(route.methods)
    return ", ".join(sorted(methods))


async def api_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ApiError):
        return _json_error(exc)
    if isinstance(exc, HTTPException):
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            message = (
                f"{request.method} is not allowed on {request.url.path}; use {allowed or 'another method'}"
            )
            return _json_error(ApiError(405, "method_not_allowed", message), {"Allow": allowed})
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}; see /docs or the README for the API"
            return _json_error(ApiError(404, "unknown_route", message))
        if exc.status_code == 413:  # a streamed body cut off at the limit (BodyLimitMiddleware)
            return _json_error(ApiError(413, "body_too_large", str(exc.detail)))
        if exc.status_code == 400:  # FastAPI could not decode the body at all
            message = "body is not valid JSON: not UTF-8, nested too deeply, or a number over 4300 digits"
            return _json_error(ApiError(400, "malformed_json", message))
        return _json_error(ApiError(exc.status_code, "http_error", str(exc.detail)), exc.headers)
    # A bug of ours: still JSON, still says what to do.
    err = ApiError(500, "internal_error", f"{type(exc).__name__}: {exc}; please report this as a hooklab bug")
    return _json_error(err)


#: Error codes for a body field that fails validation (the rest are ``invalid_body``).
FIELD_CODES = {"amount": "invalid_amount", "currency": "invalid_currency"}


def validation_error(hints: dict[str, str]) -> Callable:
    """A handler that turns FastAPI's first validation error into our error shape.

    ``hints`` says, per body field, what a good value looks like (from the models' descriptions).
    """

    async def handler(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        kind, loc = first["type"], tuple(first["loc"])
        field = str(loc[1]) if len(loc) > 1 and loc[0] == "body" else None
        example = "; see /docs for the body it expects"
        if kind == "json_invalid":
            err = ApiError(
                400, "malformed_json", f"body is not valid JSON: {first.get('ctx', {}).get('error')}"
            )
        elif loc == ("body",) and kind == "missing":
            err = ApiError(400, "malformed_json", "body is empty; send a JSON object" + example)
        elif loc == ("body",) and isinstance(first.get("input"), bytes | str):
            err = ApiError(415, "not_json", "send the body as JSON, with Content-Type: application/json")
        elif loc == ("body",):
            err = ApiError(422, "invalid_body", "body must be a JSON object" + example)
        elif kind == "extra_forbidden":
            unknown = sorted(str(e["loc"][-1]) for e in exc.errors() if e["type"] == "extra_forbidden")
            err = ApiError(422, "unknown_field", f"unknown field(s) {unknown}; allowed: {', '.join(hints)}")
        elif kind == "missing" and field:
            err = ApiError(
                422, "missing_field", f"field '{field}' is required: {hints.get(field, 'see /docs')}"
            )
        elif field:
            got = first.get("input")
            err = ApiError(
                422, FIELD_CODES.get(field, "invalid_body"),
                f"'{field}' must be {hints.get(field, 'as /docs describes')}, got {got!r}",
                field=field,
            )  # fmt: skip
        else:
            where = ".".join(map(str, loc))
            err = ApiError(422, "invalid_request", f"{where}: {first['msg']}")
        return _json_error(err)

    return handler


#: What each error status means, for the OpenAPI description of every route.
ERROR_MEANINGS = {
    400: "malformed JSON (or, at A's webhook endpoint, a bad signature)",
    304: "not modified: the If-None-Match tag still matches (no body, the same ETag)",
    401: "an API key B was not started with (Authorization: Bearer); send a known key or none",
    404: "no such payment, event or route",
    405: "method not allowed here (the Allow header lists those that are)",
    409: "the delivery's endpoint is disabled: POST /webhook-endpoints/{id}/recover enables it",
    413: f"body over {MAX_BODY_BYTES} bytes",
    415: "a body declared as something other than JSON",
    422: "a field that is missing, unknown or invalid (the message names it)",
    429: "over the rate limit, or this client holds too many long polls or streams: wait Retry-After "
    "seconds (a 304 for a tag you had does not count)",
    502: "System B did not answer (A's POST /orders)",
    503: "A has no signing secret yet (its webhook endpoint, before registering); or, at B's GET "
    "/events?wait=, too many clients waiting already; or B asked A to wait (A's POST /orders). "
    "Retry-After, when present, says when to try again",
}


def documented(success: int, model: type, *errors: int) -> dict:
    """``responses=`` for a route: its success body, and the JSON error every failure gives."""
    out: dict = {success: {"model": model, "description": model.__doc__ or "success"}}
    for status in (400, 404, 405, 413, 415, 422, *errors):
        out[status] = {"model": ErrorBody, "description": ERROR_MEANINGS[status]}
    return out


def make_app(
    service,
    title: str,
    description: str,
    *,
    body_models: Iterable[type] = (),
    kinds: dict[str, str] | None = None,
    middleware: Iterable[Middleware] = (),
    fast_routes: dict[tuple[str, str], Callable] | None = None,
) -> FastAPI:
    """A FastAPI app for ``service`` (its ``log``, ``name``, ``clock``, ``_lifespan`` and ``health``), with
    local docs, the request log, the body limit and our JSON errors. ``fast_routes``: a dict the
    caller may fill before the app serves, of routes :class:`FastRoutes` serves directly."""
    log, name, clock = service.log, service.name, service.clock
    hints = {
        field: info.description or "as /docs describes"
        for model in body_models
        for field, info in model.model_fields.items()
    }
    app = FastAPIOffline(
        title=title,
        description=description,
        version="1",
        redoc_url=None,
        # a body without Content-Type is read as JSON (curl and httpx send none for raw bytes); a
        # declared non-JSON type (text/plain: what a cross-site form can send) is refused with 415
        strict_content_type=False,
        # no "valid" badge fetched from validator.swagger.io: nothing leaves the machine
        swagger_ui_parameters={"validatorUrl": None},
        # FastAPI's OpenTelemetry spans and metrics: off (nothing here exports them, and asking on
        # every request whether a provider was configured cost A's webhook measurable time)
        telemetry={"tracing": False, "metrics": False, "logs": False},
        middleware=[
            Middleware(RequestLogMiddleware, log=log, name=name, clock=clock, kinds=kinds),
            *middleware,  # inside the log, so a refused request is logged too (B's rate limit)
            Middleware(BodyLimitMiddleware),
            Middleware(FastRoutes, routes={} if fast_routes is None else fast_routes),
        ],
        exception_handlers={
            ApiError: api_error,
            HTTPException: api_error,
            RequestValidationError: validation_error(hints),
            Exception: api_error,
        },
        lifespan=service._lifespan,
    )
    # uptime monitors probe with HEAD; one route, left out of the description (it is GET's twin)
    app.add_api_route(HEALTH_PATH, service.health, methods=["HEAD"], include_in_schema=False)
    return app
