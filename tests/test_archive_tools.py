"""Export, trends and the web UI (`veille serve` driven by headless Chromium), on a small test archive."""

import io
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from storage import open_archive
from storage.articles import store
from tests.archive_fixtures import ARTICLES, build
from tests.conftest import VEILLE, run_veille
from veille.archive_output import trends_figure
from veille.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def test_export_writes_every_matching_article_as_json_lines_and_csv(tmp_path: Path) -> None:
    config, _, ids = build(tmp_path)
    out = tmp_path / "export.jsonl"
    result = run_veille("export", "souverain", "--config", str(config), "--format", "jsonl", "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {r["id"] for r in rows} == {ids["doctrine"], ids["doctrine-reprise"], ids["eucs"], ids["fibre"]}
    assert all(r["text"] for r in rows), "exports carry the full text"
    every = run_veille("export", "--config", str(config), "--format", "csv", "--source", "usine")
    assert every.stdout.splitlines()[0].startswith("id,url,title")
    assert len(every.stdout.strip().splitlines()) == 1 + sum(a["source"] == "usine" for a in ARTICLES)
    bad = run_veille("export", "cloud AND", "--config", str(config))
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "cannot read the query" in bad.stderr


def test_trends_prints_the_series_and_draws_png_and_html_charts(tmp_path: Path) -> None:
    config, _, _ = build(tmp_path)
    table = run_veille("trends", "cloud-souverain", "--config", str(config), "--since", "2024-01-01")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == "period\tcloud-souverain"
    # the two copies of the doctrine story count once, in the week starting Monday 3 March 2025
    assert "2025-03-03\t1" in lines and "2025-01-13\t1" in lines
    png, html = tmp_path / "trends.png", tmp_path / "trends.html"
    for out in (png, html):
        result = run_veille("trends", "cloud-souverain", "--config", str(config), "--since", "2024-01-01",
                            "--by", "month", "--out", str(out))
        assert result.returncode == 0, result.stderr
    assert png.read_bytes().startswith(b"\x89PNG")
    page = html.read_text(encoding="utf-8")
    assert "<svg" in page and "<td>2025-03-01</td><td>1</td>" in page and "src=\"http" not in page


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def veille_serve(config: Path, *options: str) -> Iterator[int]:
    """`veille serve` on this config, running until the generator is closed; yields its port."""
    port = free_port()
    process = subprocess.Popen([*VEILLE, "serve", "--config", str(config), "--port", str(port), *options],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/versions.json", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(f"veille serve exited: {process.stderr.read() if process.stderr else ''}")
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """`veille serve` running on a test archive; yields the base URL of the archive's database."""
    config, db, _ = build(tmp_path)
    db.close()
    for port in veille_serve(config):
        yield f"http://127.0.0.1:{port}/veille"


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_serve_searches_facets_and_runs_the_canned_queries(served: str) -> None:
    rows = get_json(served + "/articles_explore.json?_search=souverain&_shape=array")
    assert {r["source"] for r in rows} == {"lemagit", "usine", "enisa"}
    facets = get_json(served + "/articles_explore.json?_facet=source")["facet_results"]
    assert {"source", "topics", "language", "month"} <= set(facets)
    weekly = get_json(served + "/topic_per_week.json?topic=cloud-souverain&since=&_shape=array")
    assert {"period": "2025-03-03", "topic": "cloud-souverain", "articles": 1} in weekly
    widest = get_json(served + "/widest_stories.json?_shape=array")
    assert widest[0]["outlets"] == 2
    tops = get_json(served + "/top_sources_per_topic.json?topic=cloud-souverain&_shape=array")
    assert tops[0] == {"topic": "cloud-souverain", "source": "lemagit", "stories": 2}


def test_serve_is_read_only(served: str) -> None:
    request = urllib.request.Request(served + ".json?sql=" + urllib.request.quote("DELETE FROM articles"))
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(request, timeout=10)
    assert len(get_json(served + "/articles.json?_shape=array")) == len(ARTICLES)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (make browser installs Debian's)")
def test_a_browser_searches_the_archive_and_opens_a_facet(served: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(served + "/articles_explore")
            page.fill("input[name=_search]", '"cloud souverain"')
            page.press("input[name=_search]", "Enter")
            page.wait_for_url("**_search=*")
            table = page.locator("table.rows-and-columns tbody")
            assert table.locator("tr").count() == 2
            assert "L'État publie sa doctrine du cloud souverain" in table.inner_text()
            link = table.locator("a[href='https://lemagit.example/doctrine']")
            assert link.count() == 1, "each article links to the original"
            page.locator(".facet-info[data-column=source] a", has_text="usine").first.click()
            page.wait_for_url("**source=usine*")
            rows = page.locator("table.rows-and-columns tbody tr")
            assert rows.count() == 1
            assert "Doctrine : le cloud souverain devient la règle" in rows.inner_text()
        finally:
            browser.close()


def test_trends_rejects_an_unknown_topic_with_the_closest_name(tmp_path: Path) -> None:
    config, _, _ = build(tmp_path)
    result = CliRunner().invoke(main, ["trends", "cloud-souverin", "--config", str(config)])
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == ("Error: Invalid value for TOPICS: no topic 'cloud-souverin' in config "
                                              "or the archive: did you mean cloud-souverain?")


SAME = {"2025-03-03": 1, "2025-03-10": 3, "2025-03-17": 2}


def test_the_trends_chart_counts_whole_stories_and_shows_every_line() -> None:
    figure = trends_figure({"cloud-souverain": SAME, "secnumcloud": SAME, "gaia-x": dict.fromkeys(SAME, 0)}, "week")
    figure.savefig(io.BytesIO(), format="png")  # lays the axes out, as a reader sees them
    axes = figure.axes[0]
    assert all(float(tick).is_integer() for tick in axes.get_yticks()), axes.get_yticks()
    lines = axes.get_lines()
    styles = {(line.get_marker(), line.get_linestyle()) for line in lines}
    assert len(styles) == len(lines) == 3, "equal series drawn alike would hide one another"
    assert lines[0].get_markersize() > lines[1].get_markersize(), "the line drawn on top leaves the one below visible"
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["cloud-souverain", "secnumcloud", "gaia-x"]


def test_the_web_ui_links_each_article_to_its_canonical_url(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "veille.db")
    store(db, {"source": "s", "url": "https://example.org/a?utm_source=rss", "canonical_url": "https://example.org/a",
               "title": "Un titre", "text": "Un texte.", "published": "2025-03-05T08:00:00+00:00"})
    urls = [r["url"] for r in db.query("SELECT url FROM articles_explore ORDER BY id")]
    assert urls == ["https://example.org/a"]
