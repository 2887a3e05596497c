"""Extraction is bounded: a page whose extraction never ends is abandoned, pathological pages do no harm.

A page stuck in extraction is simulated without timing anything: a sitecustomize module (on PYTHONPATH of
the `veille crawl` under test, so also in its extraction workers) makes trafilatura sleep for an hour on
pages that carry a marker. Without the time limit the crawl would never end.
"""

import sqlite3
import zlib
from pathlib import Path

from tests.conftest import Article, Site, article_page, distinct_text, recent, run_veille, write_config

HANG = "<!-- bench-hang: extraction never ends -->"
SITECUSTOMIZE = f'''
import time
import trafilatura

_real = trafilatura.load_html  # what crawler.extract calls first, on the page as fetched


def _stuck_on_marked_pages(html, *args, **kwargs):
    if {HANG!r} in (html if isinstance(html, str) else html.decode("utf-8", "replace")):
        time.sleep(3600)
    return _real(html, *args, **kwargs)


trafilatura.load_html = _stuck_on_marked_pages
'''


def stored(config: Path) -> dict[str, tuple[int, str]]:
    """Stored articles by GUID: (full_text, text)."""
    with sqlite3.connect(config.parent / "veille.db") as conn:
        return {guid: (full, text) for guid, full, text in conn.execute(
            "SELECT guid, full_text, text FROM articles")}


def articles(prefix: str, count: int) -> list[Article]:
    return [Article(f"{prefix}-{n}", f"Titre {prefix} {n}", distinct_text(zlib.crc32(prefix.encode()) % 100_000 + n, 5),
                    recent(n + 1), summary=f"Le résumé du flux {prefix} {n}.") for n in range(count)]


def test_a_stuck_extraction_is_abandoned_and_the_feeds_text_kept(site: Site, tmp_path: Path) -> None:
    stuck, fine = articles("stuck", 2), articles("fine", 3)
    for a in stuck:  # two stuck pages: with two workers, the others are extracted only by their replacements
        site.page(f"/articles/{a.slug}", article_page(a).replace("<main>", "<main>" + HANG))
    url = site.feed("/feed.xml", stuck + fine)  # after: the first page served at a path is kept
    other = site.feed("/other.xml", articles("other", 2))
    sources = [{"name": "news", "feed": url}, {"name": "other", "feed": other}]
    config = write_config(tmp_path / "config.yaml", sources,
                          crawl={"interval": "1h", "timeout": "5s", "delay": "0s", "extract_timeout": "10s"})
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")

    result = run_veille("crawl", "--config", str(config), env={"PYTHONPATH": str(tmp_path / "hook")}, timeout=240)

    assert result.returncode == 0, result.stderr
    held = stored(config)
    assert set(held) == {a.slug for a in stuck + articles("fine", 3) + articles("other", 2)}
    for a in stuck:
        assert held[a.slug] == (0, a.summary)
        assert f"/articles/{a.slug}?utm_source=rss: extraction took over 10s and was stopped" in result.stderr
    for slug, (full, text) in held.items():
        if not slug.startswith("stuck"):
            assert full == 1 and "cloud souverain" in text.lower(), slug


def test_pages_of_deep_nesting_or_one_huge_line_do_not_break_the_crawl(site: Site, tmp_path: Path) -> None:
    deep, long_line, plain = articles("deep", 1)[0], articles("line", 1)[0], articles("plain", 1)[0]
    nested = "<div>" * 100_000 + "<p>" + " ".join(deep.body) + "</p>" + "</div>" * 100_000
    site.page(f"/articles/{deep.slug}", article_page(deep).replace("<main>", "<main>" + nested))
    line = ("Le cloud souverain " + " ".join(long_line.body) + " ") * 20_000  # one line of about 4 MB
    site.page(f"/articles/{long_line.slug}", article_page(long_line).replace("<main>", f"<main><p>{line}</p>"))
    url = site.feed("/feed.xml", [deep, long_line, plain])  # after: the first page served at a path is kept
    config = write_config(tmp_path / "config.yaml", [{"name": "news", "feed": url}])

    result = run_veille("crawl", "--config", str(config), timeout=240)

    assert result.returncode == 0, result.stderr
    held = stored(config)
    assert set(held) == {deep.slug, long_line.slug, plain.slug}
    assert held[plain.slug][0] == 1
    for slug in (deep.slug, long_line.slug):  # the page's text, or the feed's when extraction gave up
        full, text = held[slug]
        assert text if full else text == (deep if slug == deep.slug else long_line).summary
