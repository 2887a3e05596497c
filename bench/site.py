"""The local news site of the crawl benchmarks: feeds and article pages generated once, served from memory.

    site = NewsSite.generate(feeds=50, articles=40)    # 50 RSS feeds, 40 article pages each (50–150 KB)
    with serve(site) as server: ...                    # threaded HTTP/1.1 servers, a host per feed (127.0.0.2...)

Pages look like a news site's: a header menu, the article (distinct French-ish text per page, so dedup
keeps them apart), a "lire aussi" sidebar, a footer of links and inline scripts (a page-state blob, as
front-end frameworks leave in pages). Feeds carry an ETag and a Last-Modified and answer 304 to a
conditional GET. The server counts the requests it answered and the bytes it sent.
"""

import itertools
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.dedup import vocabulary

TOPIC_PHRASES = ["cloud souverain", "cybersécurité", "data center", "intelligence artificielle"]
MENU = ["Accueil", "International", "Politique", "Économie", "Tech", "Cloud", "Sécurité", "Sport", "Culture",
        "Sciences", "Santé", "Régions", "Opinions", "Vidéos", "Podcasts", "Newsletters", "Archives"]


@dataclass
class ArticlePage:
    """One article: its feed entry and its page."""

    source: int
    number: int
    title: str
    summary: str
    page: bytes


@dataclass
class NewsSite:
    """Every response of the site, by path."""

    feeds: int
    per_feed: int
    articles: list[ArticlePage] = field(default_factory=list)
    responses: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    base: str = ""
    bases: dict[int, str] = field(default_factory=dict)  # a source's own host, once served (else `base`)

    @classmethod
    def generate(cls, feeds: int = 50, articles: int = 40, seed: int = 11) -> "NewsSite":
        rng = random.Random(seed)
        words = vocabulary(rng, 12_000)
        weights = list(itertools.accumulate(1 / (rank + 10) for rank in range(len(words))))
        site = cls(feeds, articles)
        blob = ",".join(f'{{"id":{rng.randrange(10**9)},"slug":"{rng.choice(words)}-{rng.choice(words)}",'
                        f'"tags":["{rng.choice(MENU)}","{rng.choice(MENU)}"],"score":{rng.random():.4f}}}'
                        for _ in range(6000))
        for s in range(feeds):
            for n in range(articles):
                site.articles.append(_article(rng, words, weights, blob, s, n))
        for article in site.articles:
            site.responses[article_path(article.source, article.number)] = (article.page, "text/html; charset=utf-8")
        site.responses["/robots.txt"] = (b"User-agent: *\nAllow: /\n", "text/plain")
        return site

    def feed_bytes(self, source: int) -> bytes:
        """An RSS 2.0 feed of the source's articles (their links carry the base URL, known once served)."""
        now = datetime.now(UTC)
        base = self.base_of(source)
        items = "".join(
            f"<item><title>{escape(a.title)}</title><link>{base}{article_path(a.source, a.number)}</link>"
            f"<guid isPermaLink='false'>s{a.source}-{a.number}</guid>"
            f"<pubDate>{format_datetime(now - timedelta(minutes=10 + a.number))}</pubDate>"
            f"<description>{escape(a.summary)}</description></item>"
            for a in self.articles if a.source == source)
        return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Source {source}"
                f"</title><link>{self.base_of(source)}/s{source}/</link><description>bench</description>{items}"
                f"</channel></rss>").encode()

    def urls(self) -> list[tuple[str, list[str]]]:
        """Each feed's URL with its article URLs, once served."""
        return [(self.base_of(s) + feed_path(s), [self.base_of(s) + article_path(s, n) for n in range(self.per_feed)])
                for s in range(self.feeds)]

    def base_of(self, source: int) -> str:
        return self.bases.get(source, self.base)


def feed_path(source: int) -> str:
    return f"/feeds/{source}.xml"


def article_path(source: int, number: int) -> str:
    return f"/s{source}/articles/{number}.html"


def _sentence(rng: random.Random, words: list[str], weights: list[float]) -> str:
    chosen = rng.choices(words, cum_weights=weights, k=rng.randint(9, 22))
    if rng.random() < 0.002:
        chosen.insert(rng.randrange(len(chosen)), rng.choice(TOPIC_PHRASES))
    return " ".join(chosen).capitalize() + "."


def _article(rng: random.Random, words: list[str], weights: list[float], blob: str, source: int,
             number: int) -> ArticlePage:
    title = _sentence(rng, words, weights)[:-1]
    paragraphs = [" ".join(_sentence(rng, words, weights) for _ in range(rng.randint(3, 6)))
                  for _ in range(rng.randint(8, 14))]
    target = rng.randint(50_000, 150_000)
    submenu = [f"<li><a href=/r/{k}>{escape(_sentence(rng, words, weights)[:30])}</a></li>" for k in range(6)]
    menu = "".join(f"<li><a href='/rubrique/{escape(m.lower())}'>{escape(m)}</a><ul>{''.join(submenu)}</ul></li>"
                   for m in MENU)
    related = "".join(f"<li><a href='/s{source}/articles/{rng.randrange(1000)}.html'>"
                      f"{escape(_sentence(rng, words, weights)[:70])}</a><span class=date>il y a 2 h</span></li>"
                      for _ in range(20))
    footer = "".join(f"<a href='/pages/{k}'>{escape(_sentence(rng, words, weights)[:25])}</a> " for k in range(60))
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    page = (f"<!doctype html><html lang='fr'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<meta name='author' content='Rédaction {source}'><meta name='description' "
            f"content='{escape(paragraphs[0][:150])}'><link rel='stylesheet' href='/static/site.css'>"
            f"<script src='/static/app.js' defer></script></head><body>"
            f"<header><div class=logo>Le Journal {source}</div><nav><ul class=menu>{menu}</ul></nav>"
            f"<form action=/recherche><input name=q></form></header>"
            f"<main><article><h1>{escape(title)}</h1><p class=chapo>{escape(paragraphs[0][:200])}</p>{body}"
            f"<div class=share><a href=/share>Partager</a></div></article>"
            f"<aside><h3>Lire aussi</h3><ul>{related}</ul><div class=ad>Publicité</div></aside></main>"
            f"<footer><nav>{footer}</nav><p>© Le Journal {source}. Mentions légales.</p></footer>")
    # the page-state blob: records of the site's other articles, as front-end frameworks inline them
    start = rng.randrange(len(blob) // 2)
    start = blob.index(",", start) + 1
    end = blob.index(",", start + max(0, target - len(page.encode()) - 200))
    state = blob[start:end]
    page += (f"<script>window.__STATE__ = [{state}];</script>"
             f"<script>window.dataLayer=window.dataLayer||[];dataLayer.push({{page:'article'}});</script>"
             "</body></html>")
    return ArticlePage(source, number, title, paragraphs[0][:300], page.encode())


@dataclass
class Counters:
    """What the server answered."""

    requests: int = 0
    bytes_sent: int = 0
    not_modified: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.requests = self.bytes_sent = self.not_modified = 0


LAST_MODIFIED = format_datetime(datetime(2026, 1, 1, tzinfo=UTC), usegmt=True)


@contextmanager
def serve(site: NewsSite) -> Iterator[Counters]:
    """Serve the site, each source on a loopback host of its own (their base URLs set on it), for a block."""
    counters = Counters()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            status, body, headers = 404, b"not found", {"Content-Type": "text/plain"}
            if path in site.responses:
                body, kind = site.responses[path]
                status, headers = 200, {"Content-Type": kind}
                if path.startswith("/feeds/"):
                    etag = f'"{path}-v1"'
                    headers |= {"ETag": etag, "Last-Modified": LAST_MODIFIED}
                    if self.headers.get("If-None-Match") == etag or \
                            self.headers.get("If-Modified-Since") == LAST_MODIFIED:
                        status, body = 304, b""
            headers["Content-Length"] = str(len(body))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            # status line, Server and Date headers, ours, and the blank line
            head = 17 + 60 + sum(len(n) + len(v) + 4 for n, v in headers.items()) + 2
            with counters.lock:
                counters.requests += 1
                counters.bytes_sent += len(body) + head
                counters.not_modified += status == 304

        def log_message(self, format: str, *args: object) -> None:
            pass

    # a host per source (127.0.0.2, 127.0.0.3...): politeness is per host, and each source is a site of its own
    servers = [ThreadingHTTPServer((f"127.0.0.{2 + s % 250}", 0), Handler) for s in range(site.feeds)]
    for s, server in enumerate(servers):
        server.daemon_threads = True
        site.bases[s] = f"http://127.0.0.{2 + s % 250}:{server.server_address[1]}"
    site.base = site.bases.get(0, "")
    for s in range(site.feeds):
        site.responses[feed_path(s)] = (site.feed_bytes(s), "application/rss+xml")
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    try:
        yield counters
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
