"""`veille demo`: a small French news site served on 127.0.0.1, crawled, and its alerts shown on the console.

It needs no network and no token: the site (a feed and four article pages, one story carried by two outlets,
one article about football that the topic excludes) lives in this module, the archive and config in a folder
of their own, kept afterwards so that `veille search` and `veille serve` can be tried on them.
"""

import html
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

# (outlet, slug, title, paragraphs)
ARTICLES = [
    ("journal", "doctrine-cloud", "L'État généralise le cloud souverain pour ses données sensibles", [
        "Le gouvernement a publié une circulaire qui impose aux ministères un hébergement qualifié SecNumCloud "
        "pour les données d'une sensibilité particulière.",
        "Les offres de Bleu, de S3NS et d'OVHcloud sont citées ; les administrations ont dix-huit mois pour "
        "migrer leurs applications.",
        "La liste des offres qualifiées sera publiée chaque trimestre."]),
    ("journal", "nis2-transposition", "NIS2 : le Parlement adopte la transposition", [
        "Le projet de loi résilience transpose la directive NIS2 ; dix mille entités deviennent régulées.",
        "L'ANSSI accompagnera les collectivités pendant trois ans."]),
    ("journal", "maillot", "Le maillot bleu du club de football passe au cloud", [
        "Le club de football a confié la vente de ses maillots à un cloud souverain, pour le plaisir du jeu.",
        "Les supporters ne verront pas la différence."]),
    ("depeche", "doctrine-reprise", "Cloud souverain : l'État généralise son usage pour les données sensibles", [
        "Reprise de la dépêche : le gouvernement a publié une circulaire qui impose aux ministères un hébergement "
        "qualifié SecNumCloud pour les données d'une sensibilité particulière.",
        "Les offres de Bleu, de S3NS et d'OVHcloud sont citées ; les administrations ont dix-huit mois pour "
        "migrer leurs applications."]),
]
TOPICS = [
    {"name": "cloud-souverain", "description": "Cloud souverain : SecNumCloud, Bleu, S3NS, OVHcloud",
     "query": '"cloud souverain" OR SecNumCloud OR S3NS OR OVHcloud', "exclude": ["football"],
     "chats": [-1001234567890]},
    {"name": "cybersecurite", "description": "Cybersécurité : NIS2, ANSSI",
     "keywords": ["NIS2", "ANSSI"], "chats": [-1001234567890]},
]


def _page(outlet: str, title: str, paragraphs: list[str], published: datetime) -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<meta property="article:published_time" content="{published.isoformat()}"></head><body>'
            f'<header><nav><a href="/">Accueil</a> <a href="/cloud">Cloud</a></nav></header>'
            f"<main><article><h1>{html.escape(title)}</h1>{body}</article>"
            f"<aside><h3>Lire aussi</h3><p>Les résultats du week-end.</p></aside></main>"
            f"<footer><p>© {outlet}. Mentions légales.</p></footer></body></html>")


def site(base: str, now: datetime) -> dict[str, tuple[str, bytes]]:
    """The demo site's files by path: one RSS feed per outlet and the article pages."""
    files: dict[str, tuple[str, bytes]] = {}
    items: dict[str, list[str]] = {}
    for age, (outlet, slug, title, paragraphs) in enumerate(ARTICLES):
        published = now - timedelta(hours=age + 1)
        path = f"/{outlet}/{slug}"
        files[path] = ("text/html; charset=utf-8", _page(outlet, title, paragraphs, published).encode())
        items.setdefault(outlet, []).append(
            f"<item><title>{html.escape(title)}</title><link>{base}{path}?utm_source=rss</link>"
            f"<guid>{base}{path}</guid><pubDate>{format_datetime(published)}</pubDate>"
            f"<description>{html.escape(paragraphs[0][:140])}</description></item>")
    for outlet, entries in items.items():
        feed = (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{outlet}</title>"
                f"<link>{base}/{outlet}/</link><description>démo</description>{''.join(entries)}</channel></rss>")
        files[f"/{outlet}/rss.xml"] = ("application/rss+xml; charset=utf-8", feed.encode())
    return files


@contextmanager
def serving() -> Iterator[str]:
    """The demo site on a free port of 127.0.0.1, for as long as the block runs; yields its base URL."""
    files: dict[str, tuple[str, bytes]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            kind, body = files.get(self.path.split("?")[0], ("text/plain", b""))
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    files.update(site(base, datetime.now(UTC)))
    thread = threading.Thread(target=server.serve_forever, name="veille-demo-site", daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()


def write_config(folder: Path, base: str) -> Path:
    """The demo's config.yaml in `folder`: the two outlets' feeds, two topics, the archive beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {"storage": {"path": str(folder / "veille.db")},
              "crawl": {"interval": "1h", "timeout": "10s", "delay": "0s"},
              "sources": [{"name": "journal", "feed": f"{base}/journal/rss.xml"},
                          {"name": "depeche", "feed": f"{base}/depeche/rss.xml"}],
              "topics": TOPICS}
    path = folder / "config.yaml"
    path.write_text("# written by `veille demo`: its site is gone once the demo ends\n"
                    + yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
