"""HTTP clients' side of the request log: send one request, write its ``out`` row.

Both systems send requests (A polls and creates payments, B delivers webhooks); each writes one
``out`` row per request into its own log, as the receiver writes an ``in`` row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import httpx

from hooklab.core.clock import Clock
from hooklab.core.contract import SENDER_HEADER
from hooklab.measure.requestlog import RequestLog


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
    clock: Clock,
    json_body: object = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    news_of: Callable[[httpx.Response], bool | None] | None = None,
    timeout: float | None = None,
) -> httpx.Response | None:
    """Send one request (a JSON body, or raw ``content``) and log it as an ``out`` row.

    ``None`` if no response (server down). ``news_of(response)`` runs before the row is written,
    so the row can say whether the answer told the sender something new (a poll that found a
    change).
    """
    extra = (
        {} if timeout is None else {"timeout": timeout}
    )  # a long poll waits longer than the client's default
    request = client.build_request(
        method,
        url,
        json=json_body,
        content=content,
        headers={SENDER_HEADER: log.observer, **(headers or {})},
        **extra,
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
