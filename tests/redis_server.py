"""A real Redis server for the tests (a pytest plugin, registered in tests/conftest.py).

    redis_server   one per session: Debian's `redis-server`, listening only on a Unix socket in a temporary
                   folder (no TCP port, nothing saved to disk), stopped at the end
    redis_url      one per test: a database of that server, emptied first (`unix://…?db=N`)

Without `redis-server` (on PATH) or the redis package, or a server that starts, the tests that use these
fixtures skip and say why.
"""

import contextlib
import itertools
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DATABASES = 64  # more than the default 16: one per test, reused round-robin
_numbers = itertools.count(1)


class ServerUnavailableError(Exception):
    """No Redis server can be started here; the message says why."""


@dataclass
class RedisServer:
    """A running server: its folder (socket and log)."""

    folder: Path

    @property
    def socket(self) -> Path:
        return self.folder / "redis.sock"

    def url(self, db: int = 0) -> str:
        return f"unix://{self.socket}?db={db}"


@contextlib.contextmanager
def running() -> Iterator[RedisServer]:
    """A Redis server of its own in a temporary folder, stopped and removed at the end whatever happens;
    ServerUnavailableError when none can be started (also used by the benchmarks)."""
    program = shutil.which("redis-server")
    if program is None:
        raise ServerUnavailableError("no Redis server installed (make test installs Debian's redis-server)")
    folder = Path(tempfile.mkdtemp(prefix="veille-redis-", dir="/tmp"))  # a socket path is at most 107 bytes
    server = RedisServer(folder)
    log = folder / "log"
    process = subprocess.Popen(
        [program, "--port", "0", "--unixsocket", str(server.socket), "--unixsocketperm", "700",
         "--dir", str(folder), "--save", "", "--appendonly", "no", "--databases", str(DATABASES),
         "--logfile", str(log)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not server.socket.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                said = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
                raise ServerUnavailableError(
                    f"Redis could not start: {said[-1] if said else f'exit status {process.poll()}'}")
            time.sleep(0.02)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A Redis server of its own for this test session, stopped at the end even if tests fail."""
    pytest.importorskip("redis", reason="the redis package is not installed (pip install -e '.[test]')")
    started = running()
    try:
        server = started.__enter__()
    except ServerUnavailableError as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        started.__exit__(None, None, None)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of a database of the session's server, empty."""
    import redis

    url = redis_server.url(next(_numbers) % DATABASES)
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url
