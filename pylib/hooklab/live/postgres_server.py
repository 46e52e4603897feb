"""A throwaway PostgreSQL server: a cluster made with ``initdb`` in a temporary folder, listening
only on a Unix socket in that folder, stopped and deleted when the ``with`` block ends.

For tests, benchmarks and notebooks that need a real server without touching any other: nothing
listens on the network, the server is this process's child (stopped by its own id), and its data
goes with the folder. Debian's ``postgresql`` package provides the programs (``initdb`` is under
``/usr/lib/postgresql/<version>/bin``); PostgreSQL refuses to run as root, so as root the server
runs as the ``postgres`` user the package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hooklab.live.processes import free_port, wait_started

INSTALL_HINT = "install Debian's postgresql (apt-get install postgresql), which provides initdb"
START_TIMEOUT_S = 30.0


def find_initdb() -> Path | None:
    """``initdb`` on the PATH, or in Debian's versioned folder (newest first); ``None`` if absent."""
    found = shutil.which("initdb")
    if found:
        return Path(found)
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(versions[-1]) if versions else None


@dataclass(frozen=True)
class Cluster:
    """A running throwaway server: ``url(database)`` to connect to a database in it."""

    folder: Path
    port: int
    user: str = "hooklab"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{database}?host={self.folder}&port={self.port}"

    def create_database(self, name: str) -> str:
        """A new, empty database ``name``; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')  # a name of the caller's, never of a request's
        return self.url(name)


def _as_postgres() -> dict:
    """Popen arguments that run a program as the ``postgres`` user when this process is root."""
    if os.geteuid() != 0:
        return {}
    import pwd

    entry = pwd.getpwnam("postgres")
    return {"user": entry.pw_uid, "group": entry.pw_gid}


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """Make, start, yield, then stop and delete a PostgreSQL cluster (see the module's docstring).
    Raises ``FileNotFoundError`` (saying how to install it) when PostgreSQL is not installed."""
    initdb = find_initdb()
    if initdb is None:
        raise FileNotFoundError(f"PostgreSQL is not installed here: {INSTALL_HINT}")
    postgres = initdb.with_name("postgres")
    folder = Path(tempfile.mkdtemp(prefix="hooklab-pg-"))
    owner = _as_postgres()
    server: subprocess.Popen | None = None
    try:
        if owner:
            os.chown(folder, owner["user"], owner["group"])
        data = folder / "data"
        subprocess.run([str(initdb), "-D", str(data), "--auth=trust", "--username=hooklab", "--no-sync",
                        "--encoding=UTF8"], check=True, capture_output=True, **owner)  # fmt: skip
        port = free_port()
        log = (folder / "server.log").open("ab")
        server = subprocess.Popen(
            [str(postgres), "-D", str(data), "-p", str(port), "-k", str(folder), "-c", "listen_addresses="],
            stdout=log, stderr=log, **owner,
        )  # fmt: skip
        log.close()
        cluster = Cluster(folder, port)
        _wait_ready(cluster, server)
        yield cluster
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGINT)  # "fast" shutdown: end sessions, checkpoint, exit
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_ready(cluster: Cluster, server: subprocess.Popen) -> None:
    import psycopg

    def accepts() -> bool:
        try:
            psycopg.connect(cluster.url(), connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    wait_started(server, accepts, "PostgreSQL", cluster.folder / "server.log", START_TIMEOUT_S)
