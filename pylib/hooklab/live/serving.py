"""Run an ASGI app with uvicorn on 127.0.0.1 in a background thread, for as long as a ``with``.

Usable any number of times in one kernel: each server gets a free port, and leaving the block
stops the server, joins its thread and closes its socket.
"""

from __future__ import annotations

import contextlib
import gc
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Running:
    """A served app: ``url`` (``http://127.0.0.1:<port>``) and ``port``."""

    url: str
    port: int
    server: Server
    thread: threading.Thread


def _bind(port: int, *, reuse_port: bool = False) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:  # several processes listen on one port; the kernel spreads connections among them
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    # small responses go out in two writes (head, body): without this, Nagle + delayed ACK add ~40 ms.
    # asyncio would set it per connection only if this socket's proto were IPPROTO_TCP (it is 0)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((HOST, port))
    except OSError as err:
        sock.close()
        raise OSError(
            f"cannot listen on {HOST}:{port} ({err}); pick another port or use port=0 for a free one"
        ) from err
    sock.listen(128)
    return sock


class Server(uvicorn.Server):
    """uvicorn's server, telling the app it is stopping before it waits for open requests: an app
    whose ``state.on_stopping`` is set (B's, which holds long polls and streams) ends them at
    once, so stopping does not wait out the longest of them."""

    async def shutdown(self, sockets=None) -> None:
        state = getattr(self.config.app, "state", None)
        on_stopping = getattr(state, "on_stopping", None)
        if on_stopping is not None:
            on_stopping()
        await super().shutdown(sockets=sockets)


def run(app, port: int, *, log_level: str = "info", reuse_port: bool = False) -> None:
    """Serve ``app`` on ``127.0.0.1:port`` in this thread until Ctrl+C or SIGTERM (the CLI's way);
    ``reuse_port``: share the port with other processes that ask the same (Linux's SO_REUSEPORT)."""
    # Everything loaded so far (FastAPI, pydantic, the app) lives as long as the process: move it
    # out of the collector's sight. Otherwise every full collection walks it all again, a pause of
    # 50-85 ms under load, which is most of A's p99 (measured: benchmarks/bench_receiver.py).
    gc.collect()
    gc.freeze()
    config = uvicorn.Config(app, host=HOST, port=port, log_level=log_level)
    Server(config).run(sockets=[_bind(port, reuse_port=True)] if reuse_port else None)


@contextlib.contextmanager
def serve(app, port: int = 0, *, log_level: str = "warning") -> Iterator[Running]:
    """Serve ``app`` on ``127.0.0.1:port`` (0 = any free port) until the ``with`` block ends."""
    sock = _bind(port)
    config = uvicorn.Config(
        app, log_level=log_level, lifespan="on", timeout_graceful_shutdown=2, access_log=False
    )
    server = Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="hooklab-uvicorn", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the server stopped while starting; see the log output above for why")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server did not start within {STARTUP_TIMEOUT_S} s")
            time.sleep(0.005)
        bound_port = sock.getsockname()[1]
        yield Running(f"http://{HOST}:{bound_port}", bound_port, server, thread)
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)
        sock.close()
