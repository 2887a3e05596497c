"""`veille demo`: offline, no token, alerts on the console, an archive left to search."""

from pathlib import Path

from tests.conftest import run_veille
from veille import demo


def test_the_demo_crawls_its_own_site_and_alerts_each_story_once(tmp_path: Path) -> None:
    result = run_veille("demo", "--dir", str(tmp_path / "demo"), env={"TELEGRAM_BOT_TOKEN": "123:" + "x" * 30,
                                                                   "TELEGRAM_API_URL": "http://127.0.0.1:9/bot"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("── alert for chat") == 2, result.stdout
    assert "#cloud-souverain" in result.stdout and "#cybersecurite" in result.stdout
    assert "maillot" not in result.stdout, "the football article is excluded by the topic"
    assert "2 sources ok, 4 new articles, 2 alerts sent" in result.stderr
    config = tmp_path / "demo" / "config.yaml"
    assert f"veille search 'cloud souverain' --config {config}" in result.stderr
    found = run_veille("search", "cloud souverain", "--config", str(config), "--all-copies", "--json")
    assert found.returncode == 0 and found.stdout.count('"url"') == 3, found.stdout
    again = run_veille("demo", "--dir", str(tmp_path / "demo"))
    assert again.returncode == 1 and "already holds a demo archive" in again.stderr


def test_the_demo_site_serves_a_feed_per_outlet_and_every_page_it_links() -> None:
    files = demo.site("http://127.0.0.1:1", demo.datetime.now(demo.UTC))
    assert {"/journal/rss.xml", "/depeche/rss.xml"} <= files.keys()
    assert sum(path.count("/") == 2 and not path.endswith(".xml") for path in files) == len(demo.ARTICLES)
