"""The Datasette plugin of `veille serve`: only the analysts' tables, no paths, only our own Host names.

Registered by `veille serve` alone (never as an entry point, so a plain `datasette` is left as it is) and
configured through the metadata's `plugins: {veille-serve-guard: {database, listen, allow_hosts, all_tables}}`.
Tables are hidden twice: Datasette's permissions keep the internal ones out of every page, and SQLite's
authorizer on each connection refuses to read them, whatever the SQL (`?sql=`, `_where=`, `_through=`).
"""

import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import Response

from storage.serving import PUBLIC_TABLES, hide_internal_tables

NAME = "veille-serve-guard"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
MISDIRECTED = b"veille serve: this Host is not served here (a proxy's name needs --allow-host NAME)\n"

ASGIApp = Callable[[dict[str, Any], Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]], Awaitable[None]]


def host_name(header: str) -> str:
    """The name in a Host header, lowercased, without its port, IPv6 brackets or final dot."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return (header.rpartition(":")[0] if ":" in header else header).rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(name: str, listen: str, allow_hosts: Iterable[str]) -> bool:
    """Whether to answer a request for Host `name` on a server listening on `listen`.

    DNS rebinding always comes with the attacker's own name in the Host header, so a name is answered only
    if it is the listening address, localhost on loopback, or a name given with --allow-host; on every
    interface (0.0.0.0, ::) any address typed as such is answered too. The port is not compared: it is
    the one the browser connected to, and says nothing of the name.
    """
    listen = listen.strip("[]").lower()
    if name in {listen, *(host_name(h) for h in allow_hosts)}:
        return True
    if listen in ("0.0.0.0", "::", ""):
        return _is_ip(name) or name == "localhost"
    loopback = listen == "localhost" or (_is_ip(listen) and ipaddress.ip_address(listen).is_loopback)
    return loopback and name in LOOPBACK_NAMES


async def _refuse(scope: dict[str, Any], send: Any) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "http.response.start", "status": 421,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    await send({"type": "http.response.body", "body": MISDIRECTED})


def _config(datasette: Any) -> dict[str, Any]:
    return datasette.plugin_config(NAME) or {}


def _hiding(datasette: Any) -> bool:
    return not _config(datasette).get("all_tables", False)


@hookimpl
def permission_allowed(datasette: Any, actor: Any, action: str, resource: Any) -> bool | None:
    """Internal tables can be neither seen nor listed, the archive not downloaded (unless --all-tables)."""
    if not _hiding(datasette):
        return None
    if action == "view-table" and resource[1].lower() not in PUBLIC_TABLES | {"articles_fts"}:
        return False
    if action == "view-database-download":
        return False
    return None


@hookimpl
def prepare_connection(conn: Any, database: str, datasette: Any) -> None:
    """Every connection to the archive reads the public tables only (unless --all-tables)."""
    if database == _config(datasette).get("database") and _hiding(datasette):
        hide_internal_tables(conn)


@hookimpl
def register_routes(datasette: Any) -> list[tuple[str, Any]]:
    """/-/databases.json without the archive's path on disk (unless --all-tables); ours come first."""
    if not _hiding(datasette):
        return []

    async def databases() -> Response:
        return Response.json([{k: v for k, v in d.items() if k != "path"} for d in datasette._connected_databases()])

    return [(r"/-/databases(\.json)?$", databases)]


@hookimpl
def asgi_wrapper(datasette: Any) -> Callable[[ASGIApp], ASGIApp]:
    """Answer 421 to a request whose Host is not one of ours: no DNS rebinding of a page onto the UI."""
    config = _config(datasette)
    listen, allow_hosts = config.get("listen", "127.0.0.1"), config.get("allow_hosts", [])

    def wrap(app: ASGIApp) -> ASGIApp:
        async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] in ("http", "websocket"):
                host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
                if not host_allowed(host_name(host), listen, allow_hosts):
                    await _refuse(scope, send)
                    return
            await app(scope, receive, send)

        return guarded

    return wrap
