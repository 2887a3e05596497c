"""A varied corpus of feed files (tests/feeds/) through one real `veille crawl`: none may crash the crawl."""

import json
import re
from pathlib import Path

from werkzeug import Request, Response

from tests.conftest import Article, Site, article_page, recent, run_veille, write_config

FEEDS = Path(__file__).parent / "feeds"
TYPES = {".json": "application/feed+json", ".xml": "application/xml", ".html": "text/html",
         ".bin": "application/octet-stream"}
# the files from which no entry can be recovered: each is its source's error, never the crawl's
UNREADABLE = {"binary-garbage.bin", "broken.json", "empty-channel.xml", "items-without-links.xml",
              "not-a-feed.html"}


def any_article(request: Request) -> Response:
    slug = request.path.rsplit("/", 1)[-1]
    body = [f"Article {slug} du corpus de flux, servi localement pour le test.",
            "Le texte principal de la page est assez long pour être extrait par trafilatura.",
            "Une troisième phrase complète le paragraphe de cet article de test."]
    return Response(article_page(Article(slug, f"Page {slug}", body, recent(1))),
                    content_type="text/html; charset=utf-8")


def test_every_feed_of_the_corpus_goes_through_one_crawl(tmp_path: Path, site: Site) -> None:
    files = sorted(p for p in FEEDS.iterdir() if p.suffix in TYPES)
    assert len(files) >= 20
    sources = []
    for number, path in enumerate(files):
        site.server.expect_request(f"/feeds/{path.name}").respond_with_data(
            path.read_bytes(), content_type=TYPES[path.suffix])
        sources.append({"name": f"f{number:02d}-{path.stem}", "feed": f"{site.url}/feeds/{path.name}"})
    site.server.expect_request(re.compile("/articles/.*")).respond_with_handler(any_article)
    config = write_config(tmp_path / "config.yaml", sources)

    result = run_veille("crawl", "--config", str(config), timeout=240)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "crawl failed" not in result.stderr, result.stderr

    status = json.loads(run_veille("status", "--json", "--config", str(config)).stdout)
    by_file = {s["name"].split("-", 1)[1]: s for s in status["sources"]}
    for path in files:
        health = by_file[path.stem]
        assert health["last_attempt"], path.name
        if path.name in UNREADABLE:
            assert "not a readable" in health["last_error"], (path.name, health["last_error"])
        else:
            assert health["last_error"] is None, (path.name, health["last_error"])
            assert health["items_new"] >= 1, path.name
