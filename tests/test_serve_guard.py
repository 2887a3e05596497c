"""`veille serve` shows analysts their tables only, never a path on disk, and answers only its own Host names."""

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from storage.serving import PUBLIC_TABLES
from tests.archive_fixtures import build
from tests.test_archive_tools import veille_serve
from veille.serve_guard import host_allowed, host_name

CHAT = -1009876543210
ERROR = "Forbidden: bot was blocked by the user 4f7c"
INTERNAL = ["chats", "subscriptions", "outbox", "chat_migrations", "_migrations", "story_bands",
            "story_signatures", "story_settings", "topic_rules"]


@dataclass
class Served:
    base: str  # http://127.0.0.1:PORT
    port: int
    archive: Path


def archive_with_subscribers(tmp: Path) -> Path:
    """The test archive, plus a chat, its subscription, an alert that failed and a migrated chat."""
    config, db, _ = build(tmp)
    db.execute("INSERT INTO chats VALUES (?, NULL)", [CHAT])
    db.execute("INSERT INTO subscriptions VALUES (?, 'cloud-souverain', '2025-03-01')", [CHAT])
    db.execute("INSERT INTO chat_migrations VALUES (-4242, ?, '2025-03-01')", [CHAT])
    db.execute("INSERT INTO outbox (story_id, article_id, topic, chat_id, state, last_error, queued_at) "
               "VALUES (1, 1, 'cloud-souverain', ?, 'failed', ?, '2025-03-04')", [CHAT, ERROR])
    db.conn.commit()
    db.close()
    return config


def serve(tmp: Path, *options: str) -> Iterator[Served]:
    for port in veille_serve(archive_with_subscribers(tmp), *options):
        yield Served(f"http://127.0.0.1:{port}", port, tmp / "veille.db")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`veille serve` as analysts get it, behind a proxy named analysts.example."""
    yield from serve(tmp_path_factory.mktemp("guarded"), "--allow-host", "analysts.example")


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`veille serve --all-tables`, as an admin may run it."""
    yield from serve(tmp_path_factory.mktemp("everything"), "--all-tables")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def raw_get(port: int, path: str, host: str) -> tuple[int, str]:
    """GET `path` from 127.0.0.1:port with this Host header, as a rebound browser page would send it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.decode("utf-8", "replace").partition("\r\n\r\n")
    return int(head.split()[1]), body


def secrets(served: Served) -> list[str]:
    """What no page may show: the chat id, the delivery error, where the archive lives."""
    return [str(CHAT), str(-CHAT), ERROR, "blocked by the user", str(served.archive.parent)]


SQL = ["SELECT * FROM outbox", "SELECT last_error FROM outbox", "SELECT chat_id FROM chats",
       "SELECT count(*) FROM chats", "SELECT group_concat(chat_id) FROM subscriptions",
       "SELECT * FROM articles WHERE id IN (SELECT article_id FROM outbox WHERE last_error LIKE '%blocked%')",
       "WITH c AS (SELECT * FROM chats) SELECT * FROM c", "SELECT * FROM articles_explore, OUTBOX",
       "SELECT * FROM main.chat_migrations", "SELECT sql FROM sqlite_master WHERE 0 UNION SELECT chat_id FROM chats",
       "SELECT * FROM _migrations", "SELECT * FROM story_settings"]


def test_internal_tables_cannot_be_read_by_any_url(guarded: Served) -> None:
    db = guarded.base + "/veille"
    through = quote(json.dumps({"table": "outbox", "column": "last_error", "value": ERROR}))
    urls = [guarded.base + "/", guarded.base + "/.json", db, db + ".json", db + "/articles/1",
            db + "/articles/1.json?_extras=foreign_key_tables", db + f"/articles.json?_through={through}",
            db + "/articles.json?_where=" + quote("id IN (SELECT article_id FROM outbox)"),
            *(f"{db}/{table}{suffix}" for table in INTERNAL for suffix in ("", ".json", ".csv", "/1.json")),
            *(f"{db}.json?sql={quote(sql)}" for sql in SQL), f"{db}.csv?sql={quote(SQL[0])}", db + ".db",
            *(f"{guarded.base}/-/{page}" for page in ("databases.json", "metadata.json", "settings.json",
                                                       "plugins.json", "versions.json", "threads.json"))]
    for url in urls:
        status, body = get(url)
        assert not [s for s in secrets(guarded) if s in body], url
        if ".json?sql=" in url or any(f"/{table}" in url for table in INTERNAL):
            assert status >= 400, url  # refused, not merely empty (a CSV's error comes with a 200)
    status, body = get(f"{db}.json?sql={quote('SELECT file FROM pragma_database_list()')}")
    assert status == 200 and json.loads(body)["rows"] == []
    assert get(db + "/articles/1")[0] == 200  # an article's page still works, without links to the outbox


def test_analysts_see_articles_stories_matches_and_sources_only(guarded: Served) -> None:
    status, body = get(guarded.base + "/veille.json")
    listed = {t["name"] for t in json.loads(body)["tables"]} | {v["name"] for v in json.loads(body)["views"]}
    assert status == 200 and {"articles", "articles_explore", "matches", "sources", "article_sources"} <= listed
    assert listed <= PUBLIC_TABLES | {"articles_fts"}
    home = json.loads(get(guarded.base + "/.json")[1])["veille"]["tables_and_views_truncated"]
    assert {t["name"] for t in home} <= PUBLIC_TABLES
    status, body = get(guarded.base + "/veille.json?sql=" + quote("SELECT count(*) AS n FROM matches m "
                                                                  "JOIN articles a ON a.id = m.article_id"))
    assert status == 200 and json.loads(body)["rows"] == [[3]]  # ad-hoc SQL on the analysts' tables


def test_a_page_for_another_host_name_is_refused(guarded: Served) -> None:
    port = guarded.port
    for path in ("/", "/veille/articles.json", "/-/versions.json"):
        status, body = raw_get(port, path, f"evil.example:{port}")
        assert status == 421 and "--allow-host" in body and "souverain" not in body, path
    for host in ("evil.example", "127.0.0.1.evil.example", "localhost.evil.example", ""):
        assert raw_get(port, "/", host)[0] == 421, host
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "analysts.example", "ANALYSTS.example:443"):
        assert raw_get(port, "/veille/articles.json", host)[0] == 200, host


def test_all_tables_shows_an_admin_everything_still_on_our_host_names_only(everything: Served) -> None:
    status, body = get(everything.base + "/veille/outbox.json?_shape=array")
    assert status == 200 and json.loads(body)[0]["last_error"] == ERROR
    assert any(d["path"] for d in json.loads(get(everything.base + "/-/databases.json")[1]))
    assert raw_get(everything.port, "/veille/outbox.json", f"evil.example:{everything.port}")[0] == 421


@pytest.mark.parametrize(("header", "listen", "allowed"), [
    ("127.0.0.1:8001", "127.0.0.1", True), ("localhost:8001", "127.0.0.1", True), ("[::1]:8001", "::1", True),
    ("localhost", "localhost", True), ("127.0.0.1", "localhost", True), ("evil.example:8001", "127.0.0.1", False),
    ("192.168.1.5:8001", "127.0.0.1", False), ("192.168.1.5:8001", "0.0.0.0", True), ("[fe80::1]", "::", True),
    ("localhost:8001", "0.0.0.0", True), ("evil.example", "0.0.0.0", False), ("10.0.0.2", "10.0.0.2", True),
    ("localhost", "10.0.0.2", False), ("analysts.example.", "0.0.0.0", True), ("", "0.0.0.0", False),
])
def test_host_names_answered(header: str, listen: str, allowed: bool) -> None:
    assert host_allowed(host_name(header), listen, ["analysts.example"]) is allowed
