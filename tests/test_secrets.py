"""Secrets and access: the token never shows, the web UI only reads, search input is only a parameter."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from storage import SearchSyntaxError, open_archive
from storage.search import search
from tests import fakebot
from tests.archive_fixtures import build
from tests.conftest import SOVEREIGN, UNRELATED, VEILLE, Site, run_veille, write_config
from tests.fakebot import FakeBotAPI

TOKEN = "7211:AAHs3cr3t-part_of-the-token"
SECRET = TOKEN.partition(":")[2]


def leaks(text: str) -> list[str]:
    """The forms of the token found in `text`."""
    return [form for form in (TOKEN, SECRET, quote(TOKEN, safe=""), quote(SECRET, safe="")) if form in text]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, data: bytes | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=20) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, Callable[[], str]]]:
    """`veille serve`, default host, on a config whose archive the test fills first: (config, base URL)."""
    config = tmp_path / "config.yaml"
    port = free_port()
    holder: dict[str, subprocess.Popen[str]] = {}

    def start() -> str:
        holder["p"] = subprocess.Popen([*VEILLE, "serve", "--config", str(config), "--port", str(port)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                       env={k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"})
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                urllib.request.urlopen(base + "/-/versions.json", timeout=1).close()
                return base
            except OSError:
                assert holder["p"].poll() is None, holder["p"].stderr.read() if holder["p"].stderr else ""
                time.sleep(0.2)
        pytest.fail("veille serve never answered")

    yield config, start
    if "p" in holder:
        holder["p"].terminate()
        holder["p"].wait(timeout=10)


def test_the_token_never_shows_in_output_logs_status_archive_or_web_ui(tmp_path: Path, site: Site,
                                                                       fake_bot: FakeBotAPI,
                                                                       served: tuple[Path, Callable[[], str]]) -> None:
    """A crawl at DEBUG with the token in config, then a crawl and the service at DEBUG with it in the
    environment, with Telegram errors that quote the request URL: no form of the token anywhere a person
    or a program can read (output, logs, status, the archive's files, the web UI)."""
    feed = site.feed("/rss.xml", [SOVEREIGN, UNRELATED])
    site.page("/dead.xml", "gone", status=404)
    sources = [{"name": "journal", "feed": feed}, {"name": "dead", "feed": site.url + "/dead.xml"}]
    topics = [{"name": "cloud", "keywords": ["cloud souverain"], "chats": [1001, 1002]}]
    config, start_serve = served
    outputs: list[str] = []
    for variant in ("config", "env"):
        (tmp_path / "veille.db").unlink(missing_ok=True)
        for extra in ("-wal", "-shm"):
            (tmp_path / f"veille.db{extra}").unlink(missing_ok=True)
        fake_bot.calls.clear()
        telegram = {"token": TOKEN} if variant == "config" else {}
        write_config(config, sources, topics, telegram=telegram)
        env = {"TELEGRAM_API_URL": f"{fake_bot.url}/bot", "VEILLE_LOG_LEVEL": "DEBUG"}
        if variant == "env":
            env["TELEGRAM_BOT_TOKEN"] = TOKEN

        # a crawl: one alert refused by an error page that quotes the URL, the next answered "not found"
        # (python-telegram-bot reads it as a bad token), a dead source
        fake_bot.script["sendMessage"] = [("echo", 500), ("echo", 404)]
        crawl = run_veille("crawl", "--config", str(config), env=env)
        assert crawl.returncode == 0, crawl.stderr
        outputs += [crawl.stdout, crawl.stderr]
        status = run_veille("status", "--config", str(config))
        assert "failed upstream" in status.stdout or "pending" in status.stdout
        outputs += [status.stdout, status.stderr,
                    run_veille("status", "--json", "--config", str(config)).stdout,
                    run_veille("config", "check", "--config", str(config), env=env).stdout]

        if variant == "config":
            continue
        # the service: Telegram down behind the proxy at start, a failed poll, then everything delivered
        fake_bot.script["getMe"] = [("echo", 502)]
        fake_bot.script["getUpdates"] = [("echo", 500)]
        fake_bot.push(fakebot.message("/start", 1001))
        log = tmp_path / f"run-{variant}.log"
        with log.open("w") as stderr:
            service = subprocess.Popen(
                [*VEILLE, "run", "--config", str(config)], stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                env={k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")} | env)
        try:
            deadline = time.monotonic() + 60
            while not (fake_bot.replies(1002) and len(fake_bot.replies(1001)) >= 2) \
                    and time.monotonic() < deadline and service.poll() is None:
                time.sleep(0.1)
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=30)
        outputs.append(log.read_text())
        assert fake_bot.replies(1002), f"the alerts were delivered in the end: {outputs[-1][-3000:]}"
        outputs.append(run_veille("status", "--config", str(config)).stdout)

        archive = b"".join(p.read_bytes() for p in tmp_path.glob("veille.db*"))
        outputs.append(archive.decode("latin-1"))

    base = start_serve()
    for page in ("/", "/veille", "/veille/outbox", "/veille/outbox.json?_shape=array",
                 "/veille/sources.json?_shape=array", "/-/settings.json", "/-/metadata.json"):
        outputs.append(get(base + page)[1])
    everything = "\n".join(outputs)
    assert "failed upstream" in everything or "***" in everything, "the errors quoting the URL did happen"
    assert "DEBUG" in everything, "the runs logged at DEBUG"
    found = leaks(everything)
    assert not found, [everything[max(0, everything.find(f) - 300):everything.find(f) + 100] for f in found]


def test_tracebacks_and_uncaught_errors_are_redacted_too(tmp_path: Path) -> None:
    """An exception whose message quotes the token, logged with its traceback, and one nobody catches."""
    script = f"""
import logging
from veille import logs
logs.setup(token={TOKEN!r})
try:
    raise RuntimeError("POST /bot{quote(TOKEN)}/sendMessage failed")
except RuntimeError:
    logging.getLogger("veille").exception("delivery failed")
raise RuntimeError("uncaught: {SECRET}")
"""
    result = subprocess.run([str(Path(VEILLE[0]).parent / "python"), "-c", script], capture_output=True,
                            text=True, timeout=60)
    assert "delivery failed" in result.stderr and "uncaught: ***" in result.stderr
    assert "Traceback" in result.stderr
    assert not leaks(result.stdout + result.stderr), result.stderr


def snapshot(path: Path) -> tuple[int, list[str], str]:
    """Articles, tables and integrity of an archive, to compare before and after."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return (db.execute("SELECT count(*) FROM articles").fetchone()[0],
                sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master")),
                db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


def test_the_web_ui_listens_on_loopback_only_and_refuses_every_write(tmp_path: Path,
                                                                     served: tuple[Path, Callable[[], str]]) -> None:
    _, start_serve = served
    build(tmp_path)
    before = snapshot(tmp_path / "veille.db")
    base = start_serve()
    port = int(base.rsplit(":", 1)[1])
    with socket.socket() as other, pytest.raises(OSError):  # another loopback address, as another host would
        other.settimeout(5)
        other.connect(("127.0.0.2", port))
    writes = ["DELETE FROM articles", "UPDATE articles SET title = 'x'", "DROP TABLE articles",
              "INSERT INTO chats VALUES (1, NULL)", "ATTACH DATABASE 'x.db' AS x", "PRAGMA writable_schema = 1",
              "SELECT 1; DELETE FROM articles", "CREATE TABLE t (x)", "VACUUM INTO 'copy.db'"]
    for sql in writes:
        status, _ = get(f"{base}/veille.json?sql={quote(sql)}")
        assert status >= 400, f"{sql!r} was accepted"
    posts = [("/veille/articles/-/insert", {"row": {"source": "x", "url": "u", "canonical_url": "u"}}),
             ("/veille/articles/1/-/delete", {}), ("/veille/articles/-/drop", {"confirm": True}),
             ("/veille/-/create", {"table": "t", "columns": [{"name": "x"}]}),
             ("/veille/topic_per_week", {"topic": "", "since": ""}),
             ("/veille/-/query", {"sql": "DELETE FROM articles"})]
    for path, body in posts:
        status, _ = get(base + path, json.dumps(body).encode())
        assert status >= 400, f"POST {path} was accepted"
    for query in HOSTILE[:3]:
        status, _ = get(f"{base}/veille/articles_explore.json?_search={quote(query)}")
        assert status in (200, 400), query
    assert not (tmp_path / "copy.db").exists() and not (tmp_path / "x.db").exists()
    assert snapshot(tmp_path / "veille.db") == before


HOSTILE = ["'; DROP TABLE articles; --", '" OR 1=1 --', "souverain)) UNION SELECT * FROM chats --", "NEAR(",
           "*", "AND OR NOT", "title:", "{title text}: souverain", "^cloud", "cloud\" OR \"1\"=\"1",
           "%' OR '%' = '", "😀 souverain", "a" * 5000]


def test_hostile_search_input_is_only_a_parameter(tmp_path: Path) -> None:
    """Quotes, SQL, FTS5 syntax junk, NUL: results or a one-line error, and the archive intact."""
    config, db, _ = build(tmp_path)
    db.close()
    before = snapshot(tmp_path / "veille.db")
    for query in HOSTILE[:3]:  # through the command line (each start costs seconds): the same code as below
        result = run_veille("search", query, "--config", str(config), "--json")
        assert "Traceback" not in result.stderr, (query, result.stderr)
        if result.returncode == 0:
            assert isinstance(json.loads(result.stdout), list)
        else:
            assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, (query, result.stderr)
    db = open_archive(tmp_path / "veille.db")
    for query in [*HOSTILE, "cloud\x00souverain", "\x00", "souverain\x00'; DROP TABLE articles; --"]:
        try:
            assert isinstance(search(db, query), list)
        except SearchSyntaxError as exc:
            assert "\n" not in str(exc)
    db.close()
    assert snapshot(tmp_path / "veille.db") == before
