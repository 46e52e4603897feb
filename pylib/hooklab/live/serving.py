"""Run an ASGI app with uvicorn on 127.0.0.1 in a background thread, for as long as a ``with``.

Usable any number of times in one kernel: each server gets a free port, and leaving the block
stops the server, joins its thread and closes its socket.
"""

from __future__ import annotations

import contextlib
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
    server: uvicorn.Server
    thread: threading.Thread


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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


@contextlib.contextmanager
def serve(app, port: int = 0, *, log_level: str = "warning") -> Iterator[Running]:
    """Serve ``app`` on ``127.0.0.1:port`` (0 = any free port) until the ``with`` block ends."""
    sock = _bind(port)
    config = uvicorn.Config(
        app, log_level=log_level, lifespan="on", timeout_graceful_shutdown=2, access_log=False
    )
    server = uvicorn.Server(config)
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
