"""Shared fixtures: a local web site of feeds and article pages, a fake Bot API, and the real CLI."""

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
import yaml
from pytest_httpserver import HTTPServer

from storage import Archive
from tests import fakebot

VEILLE = [str(Path(sys.executable).parent / "veille")]
pytest_plugins = ["tests.pg_server",  # a real PostgreSQL server: pg_server, pg_url, pg_archive
                  "tests.redis_server"]  # a real Redis server: redis_server, redis_url
SIDEBAR = "<aside><h3>Lire aussi</h3><ul><li><a href='/x'>Football : le PSG gagne encore</a></li></ul></aside>"


@dataclass
class Article:
    """An article served by the local site: its feed entry and its page."""

    slug: str
    title: str
    body: list[str]
    published: datetime
    summary: str = ""


def article_page(article: Article, *, sidebar: str = SIDEBAR, lang: str = "fr") -> str:
    """A realistic page: menu, the article, a sidebar and a footer."""
    paragraphs = "".join(f"<p>{p}</p>" for p in article.body)
    return f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{article.title}</title>
<meta name="author" content="Claire Martin"></head><body>
<header><nav><a href="/">Accueil</a> <a href="/cloud">Cloud</a> <a href="/securite">Sécurité</a></nav></header>
<main><article><h1>{article.title}</h1>{paragraphs}</article>{sidebar}</main>
<footer><p>© Le Journal du Numérique. Mentions légales. Newsletter.</p></footer></body></html>"""


def rss(site_url: str, articles: list[Article], title: str = "Le Journal du Numérique") -> str:
    """An RSS 2.0 feed of these articles."""
    items = "".join(
        f"<item><title>{a.title}</title><link>{site_url}/articles/{a.slug}?utm_source=rss</link>"
        f"<guid isPermaLink='false'>{a.slug}</guid><pubDate>{format_datetime(a.published)}</pubDate>"
        f"<description>{a.summary or a.body[0][:120]}</description></item>"
        for a in articles)
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{title}</title>"
            f"<link>{site_url}</link><description>test</description>{items}</channel></rss>")


_WORDS = """réseau données ministère budget agence région hôpital école opérateur contrat serveur logiciel
usine énergie port satellite banque marché juge sénat commune université laboratoire câble fibre centre calcul
stockage sécurité audit incident panne migration licence cession rachat partenariat appel offre lot équipe
projet calendrier rapport enquête audition amende décret"""
VOCABULARY = _WORDS.split()


def distinct_text(seed: int, sentences: int = 4) -> list[str]:
    """Sentences about the sovereign cloud that share no run of words with another seed's: never one story."""
    rng = random.Random(seed)
    return [f"Le cloud souverain {' '.join(rng.sample(VOCABULARY, 12))} {seed}-{n}." for n in range(sentences)]


def recent(hours: float = 1) -> datetime:
    return (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0)


SOVEREIGN = Article(
    "cloud-souverain-doctrine",
    "L'État publie sa nouvelle doctrine du cloud souverain",
    ["Le gouvernement a présenté mardi une nouvelle doctrine pour le cloud souverain des administrations.",
     "Les offres qualifiées SecNumCloud par l'ANSSI deviennent la règle pour les données sensibles.",
     "Les acteurs français saluent une clarification attendue depuis des années par le secteur."],
    recent(2))
UNRELATED = Article(
    "fibre-optique",
    "La fibre optique arrive dans les villages du Cantal",
    ["Le déploiement de la fibre optique se poursuit dans les zones rurales du Cantal.",
     "Les opérateurs annoncent une couverture complète du département d'ici deux ans.",
     "Les élus locaux demandent un calendrier plus précis aux opérateurs."],
    recent(3))


@dataclass
class Site:
    """The local web site: serve feeds and pages on it."""

    server: HTTPServer

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def feed(self, path: str, articles: list[Article], **headers: str) -> str:
        self.server.expect_request(path).respond_with_data(
            rss(self.url, articles), content_type="application/rss+xml", headers=headers or None)
        for a in articles:
            self.page(f"/articles/{a.slug}", article_page(a))
        return self.url + path

    def page(self, path: str, html: str, status: int = 200) -> None:
        self.server.expect_request(path).respond_with_data(html, status=status,
                                                           content_type="text/html; charset=utf-8")


@pytest.fixture
def site(httpserver: HTTPServer) -> Site:
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    return Site(httpserver)


@pytest.fixture
def threaded() -> Iterator[HTTPServer]:
    """A local server that answers requests concurrently (for pages that hang)."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def fake_bot() -> Iterator[fakebot.FakeBotAPI]:
    yield from fakebot.serve()


def write_config(path: Path, sources: list[dict[str, Any]], topics: list[dict[str, Any]] | None = None,
                 **sections: Any) -> Path:
    """A config.yaml for a test, with its archive next to it."""
    data: dict[str, Any] = {"storage": {"path": str(path.parent / "veille.db")},
                            "crawl": {"interval": "1h", "timeout": "5s", "delay": "0s"},
                            "sources": sources,
                            "topics": topics if topics is not None else [{
                                "name": "cloud-souverain", "keywords": ["cloud souverain", "SecNumCloud"],
                                "exclude": ["football"], "chats": [-1001]}]}
    data.update(sections)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def run_veille(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
               cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `veille` command line and capture what it prints."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    full_env.update(env or {})
    return subprocess.run([*VEILLE, *args], capture_output=True, text=True, timeout=timeout, env=full_env,
                          cwd=cwd, stdin=subprocess.DEVNULL)


def search_json(config: Path, query: str, *extra: str) -> list[dict[str, Any]]:
    result = run_veille("search", query, "--config", str(config), "--json", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


_ports: dict[str, Archive] = {}


def port(db: sqlite_utils.Database) -> Archive:
    """The Archive the other rooms would hold, over the same file as this test's own connection `db` (one per
    file, closed after the test): tests set up and inspect through `db`, the code under test goes through it."""
    path = db.conn.execute("PRAGMA database_list").fetchone()[2]
    if path not in _ports:
        _ports[path] = Archive.open(path)
    return _ports[path]


@pytest.fixture(autouse=True)
def _close_ports() -> Iterator[None]:
    yield
    while _ports:
        _ports.popitem()[1].close()
