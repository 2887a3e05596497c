"""A real PostgreSQL server for the tests (a pytest plugin, registered in tests/conftest.py).

    pg_server   one per session: `initdb` into a temporary folder, `pg_ctl start` listening only on a Unix
                socket in that folder (no TCP port, nothing outside the folder), stopped at the end
    pg_url      one per test: a fresh database, CREATE DATABASE from an empty template (migrations not run)
    pg_archive  one per test: a fresh database copied from a template already migrated (storage.postgres)

PostgreSQL refuses to run as root: as root, initdb and pg_ctl run as the `postgres` user (or `nobody`)
through `setpriv`, which owns the folder; the tests, still root, reach the socket all the same. Without
PostgreSQL's binaries (on PATH or in Debian's /usr/lib/postgresql/*/bin), psycopg, or a server that
starts, the tests that use these fixtures skip and say why.
"""

import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "veille"  # the server's superuser, as initdb creates it
_numbers = itertools.count(1)


def _bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, or Debian's newest /usr/lib/postgresql/N/bin."""
    if found := shutil.which("initdb"):
        return Path(found).resolve().parent
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return Path(debian[-1]).parent if debian else None


def _as_server_user(folder: Path) -> list[str]:
    """The command prefix that runs the server as a user it accepts: root hands the folder to `postgres`."""
    if os.getuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            user = pwd.getpwnam(name)
            os.chown(folder, user.pw_uid, user.pw_gid)
            return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
    raise ServerUnavailableError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")


@dataclass
class PgServer:
    """A running server: its folder (data, log and socket) and the URL of one of its databases."""

    folder: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@/{database}?host={self.folder}"

    def execute(self, sql: str) -> None:
        """Run a statement outside a transaction (CREATE and DROP DATABASE need that)."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)

    def create(self, template: str = "template0") -> str:
        """The name of a new database copied from `template`."""
        name = f"test_{next(_numbers)}"
        self.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        return name


def _run(command: list[str], folder: Path) -> None:
    """Run initdb or pg_ctl; skip the PostgreSQL tests, with the last line it said, if it fails."""
    program = next(Path(word).name for word in command if Path(word).name in ("initdb", "pg_ctl"))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=folder, check=False)
    except OSError as exc:  # no setpriv, say
        raise ServerUnavailableError(f"PostgreSQL could not start ({program}): {exc}") from None
    if done.returncode != 0:
        log = folder / "log"
        said = done.stderr + done.stdout + (log.read_text(errors="replace") if log.exists() else "")
        last = [line.strip() for line in said.splitlines() if line.strip()] or [f"exit status {done.returncode}"]
        raise ServerUnavailableError(f"PostgreSQL could not start ({program}): {last[-1]}")


class ServerUnavailableError(Exception):
    """No PostgreSQL server can be started here; the message says why."""


@contextlib.contextmanager
def running() -> Iterator[PgServer]:
    """A PostgreSQL server of its own in a temporary folder, stopped and removed at the end whatever happens;
    ServerUnavailableError when none can be started (also used by bench.postgres)."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise ServerUnavailableError(
            "no PostgreSQL server installed (make test installs Debian's postgresql with apt-get)")
    # in /tmp whatever TMPDIR says: a socket's path is at most 107 bytes, and the server's user must reach it
    folder = Path(tempfile.mkdtemp(prefix="veille-pg-", dir="/tmp"))
    data = folder / "data"
    prefix: list[str] = []
    try:
        prefix = _as_server_user(folder)
        _run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
              "--locale=C.UTF-8", "--no-sync"], folder)
        settings = f"-c listen_addresses='' -k {folder} -c fsync=off -c full_page_writes=off"
        _run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-o", settings,
              "-w", "-t", "60", "start"], folder)
        yield PgServer(folder)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60, check=False)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server of its own for this test session, stopped at the end even if tests fail."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[test]')")
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
def pg_url(pg_server: PgServer) -> str:
    """The URL of a new, empty database (no migration run)."""
    return pg_server.url(pg_server.create())


@pytest.fixture(scope="session")
def pg_migrated(pg_server: PgServer) -> str:
    """The name of a template database the archive's migrations have run in."""
    from storage import postgres

    name = pg_server.create()
    postgres.connect(pg_server.url(name)).close()  # connect() migrates
    pg_server.execute(f"ALTER DATABASE {name} IS_TEMPLATE true")
    return name


@pytest.fixture
def pg_archive(pg_server: PgServer, pg_migrated: str) -> str:
    """The URL of a new database holding the archive's schema, empty of articles."""
    return pg_server.url(pg_server.create(pg_migrated))
