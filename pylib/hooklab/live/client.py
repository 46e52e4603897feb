"""HTTP clients' side of the request log: one logging transport under every client of both systems.

A's client to B, the event loop A pulls on, and each of B's webhook clients send through a
:class:`LoggingTransport` (or :class:`AsyncLoggingTransport`), which writes one ``out`` row per
request into the system's :class:`~hooklab.measure.requestlog.RequestLog` when the answer's body has
been read (for a stream: when it closes), or at once when no answer came (status ``None``). A
request says what it was for in its extensions (:func:`tagged`): its ``kind``, and how to tell
whether the answer was news (a callback on the answer, or a holder the reader fills as it goes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor

import httpx

from hooklab.core.clock import Clock
from hooklab.core.contract import SENDER_HEADER
from hooklab.measure.requestlog import RequestLog

KIND = "hooklab.kind"
NEWS_OF = "hooklab.news_of"  # callback(answer) -> bool | None, run before the row is written
NEWS = "hooklab.news"  # a dict whose "news" the reader sets while it streams (SSE)


def tagged(kind: str, *, news_of: Callable[[httpx.Response], bool | None] | None = None,
           news: dict | None = None) -> dict:  # fmt: skip
    """The extensions that tell the logging transport what a request is for."""
    return {
        KIND: kind,
        **({NEWS_OF: news_of} if news_of else {}),
        **({NEWS: news} if news is not None else {}),
    }


class _Row:
    """One request's row, written once: when its answer's body is done, or when no answer came."""

    def __init__(self, log: RequestLog, clock: Clock, receiver: str, request: httpx.Request) -> None:
        self.log, self.receiver, self.request = log, receiver, request
        self.started_at, self.t0 = clock.now(), time.perf_counter()
        self.body: list[bytes] = []
        self.size = 0
        self.answer: tuple[int, httpx.Headers] | None = None  # status and headers, once they came
        self.done = False

    def chunk(self, data: bytes) -> bytes:
        self.size += len(data)
        if NEWS_OF in self.request.extensions:
            self.body.append(data)
        return data

    def answered(self, response: httpx.Response, stream_cls: type) -> httpx.Response:
        """The answer as the client will read it: the same, through a stream that writes this row."""
        self.answer = (response.status_code, response.headers)
        return httpx.Response(response.status_code, headers=response.headers, extensions=response.extensions,
                              stream=stream_cls(response.stream, self))  # fmt: skip

    def write(self) -> None:
        """Write the row (once), with the answer if one came."""
        if self.done:
            return
        self.done = True
        ext = self.request.extensions
        news = None
        if self.answer is not None and NEWS_OF in ext:
            status, headers = self.answer
            news = ext[NEWS_OF](httpx.Response(status, headers=headers, content=b"".join(self.body),
                                               request=self.request))  # fmt: skip
        elif NEWS in ext:
            news = ext[NEWS].get("news")
        self.log.record(
            time=self.started_at, direction="out", sender=self.log.observer, receiver=self.receiver,
            kind=ext.get(KIND, "other"), method=self.request.method, path=self.request.url.path,
            status=None if self.answer is None else self.answer[0],
            duration_s=time.perf_counter() - self.t0, bytes=len(self.request.content) + self.size, news=news,
        )  # fmt: skip


class _Stream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, row: _Row) -> None:
        self.inner, self.row = inner, row

    def __iter__(self) -> Iterator[bytes]:
        for data in self.inner:
            yield self.row.chunk(data)

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self.row.write()


class _AsyncStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, row: _Row) -> None:
        self.inner, self.row = inner, row

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for data in self.inner:
            yield self.row.chunk(data)

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            self.row.write()


class LoggingTransport(httpx.BaseTransport):
    """Send through ``inner`` and log each request as an ``out`` row of ``log`` to ``receiver``."""

    def __init__(self, inner: httpx.BaseTransport, log: RequestLog, clock: Clock, receiver: str) -> None:
        self.inner, self.log, self.clock, self.receiver = inner, log, clock, receiver

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers.setdefault(SENDER_HEADER, self.log.observer)
        row = _Row(self.log, self.clock, self.receiver, request)
        try:
            response = self.inner.handle_request(request)
        except BaseException:
            row.write()
            raise
        return row.answered(response, _Stream)

    def close(self) -> None:
        self.inner.close()


class AsyncLoggingTransport(httpx.AsyncBaseTransport):
    """The same as :class:`LoggingTransport`, for async clients."""

    def __init__(self, inner: httpx.AsyncBaseTransport, log: RequestLog, clock: Clock, receiver: str) -> None:
        self.inner, self.log, self.clock, self.receiver = inner, log, clock, receiver

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.headers.setdefault(SENDER_HEADER, self.log.observer)
        row = _Row(self.log, self.clock, self.receiver, request)
        try:
            response = await self.inner.handle_async_request(request)
        except BaseException:
            row.write()
            raise
        return row.answered(response, _AsyncStream)

    async def aclose(self) -> None:
        await self.inner.aclose()


class ThreadedTransport(httpx.AsyncBaseTransport):
    """An async face on a sync transport (the one under a client a test injected, such as a
    ``TestClient`` on B in the same process): each request runs on a worker thread and its answer is
    read whole there. A's pull loops run on it, so every pull mode runs in-process; a stream arrives
    when B ends it (``ProviderService(stream_s=...)``). Closing waits for a request still in flight."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hooklab-pull-io")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        def call() -> tuple[int, httpx.Headers, bytes]:
            copy = httpx.Request(request.method, request.url, headers=request.headers, content=request.content,
                                 extensions=request.extensions)  # fmt: skip
            response = self.inner.handle_request(copy)
            try:
                return response.status_code, response.headers, response.read()
            finally:
                response.close()

        status, headers, body = await asyncio.get_running_loop().run_in_executor(self.pool, call)
        return httpx.Response(status, headers=headers, content=body)

    async def aclose(self) -> None:
        # wait for a request still running (a held long poll, bounded by B's wait): one left running
        # into B's in-process server as a test tears it down kept that server from stopping
        self.pool.shutdown(wait=True, cancel_futures=True)


def logging_client(client: httpx.Client, log: RequestLog, clock: Clock, receiver: str) -> httpx.Client:
    """``client`` with its transport wrapped in a :class:`LoggingTransport` (for a client made
    elsewhere, such as a test's ``TestClient``; hooklab's own clients are built with one)."""
    client._transport = LoggingTransport(
        client._transport, log, clock, receiver
    )  # httpx has no public setter
    return client


def send(
    client: httpx.Client,
    kind: str,
    method: str,
    url: str,
    *,
    json_body: object = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    news_of: Callable[[httpx.Response], bool | None] | None = None,
    timeout: float | None = None,
) -> httpx.Response | None:
    """Send one request through a logging client (a JSON body, or raw ``content``); ``None`` if no
    answer came (the server is down). ``news_of(answer)`` runs before the row is written, so the row
    says whether the answer told the sender something new (a poll that found a change)."""
    extra = {} if timeout is None else {"timeout": timeout}  # a long poll waits longer than the default
    request = client.build_request(method, url, json=json_body, content=content, headers=headers,
                                   extensions=tagged(kind, news_of=news_of), **extra)  # fmt: skip
    try:
        return client.send(request)
    except httpx.TransportError:
        return None
