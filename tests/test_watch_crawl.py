"""Watched pages through the real `veille crawl` and the fake Bot API: each kind of change gives exactly
the alerts it should, with its diff."""

import html
from pathlib import Path

import pytest
from werkzeug import Request, Response

from tests.conftest import Site, run_veille, write_config
from tests.fakebot import FakeBotAPI
from tests.test_end_to_end import telegram_env

WATCH_CHAT = -2002
TOPIC_CHAT = -1001


def offers(*rows: str, stamp: str = "03/12/2026 10:00") -> str:
    cells = "".join(f"<tr><td>{r}</td><td>SecNumCloud 3.2</td></tr>" for r in rows)
    return (f"<html><head><title>Offres qualifiées</title></head><body><nav>Accueil · Contact</nav>"
            f"<h1>Liste des offres qualifiées</h1><p>Mis à jour le {stamp}</p>"
            f"<table id='offres'><tr><th>Prestataire</th><th>Référentiel</th></tr>{cells}</table>"
            f"<footer>Visites : {len(stamp)}</footer></body></html>")


class LivePage:
    """A page whose body and status the test changes between crawls."""

    def __init__(self, site: Site, path: str, body: str) -> None:
        self.body, self.status, self.fetches = body, 200, 0
        site.server.expect_request(path).respond_with_handler(self._serve)
        self.url = site.url + path

    def _serve(self, request: Request) -> Response:
        self.fetches += 1
        return Response(self.body, status=self.status, content_type="text/html; charset=utf-8")


def crawl(config: Path, fake_bot: FakeBotAPI) -> list[str]:
    """One `veille crawl`; the texts it sent, unescaped."""
    before = len(fake_bot.sent())
    result = run_veille("crawl", "--config", str(config), env=telegram_env(fake_bot))
    assert result.returncode == 0, result.stderr
    return [html.unescape(c.params["text"]) for c in fake_bot.sent()[before:]]


@pytest.fixture
def page(site: Site) -> LivePage:
    return LivePage(site, "/offres", offers("OVHcloud", "Outscale"))


def watch_config(tmp_path: Path, page: LivePage, **more: object) -> Path:
    source = {"name": "anssi-offres", "watch": page.url, "chats": [WATCH_CHAT],
              "ignore": [r"\d\d/\d\d/\d{4} \d\d:\d\d"], **more}
    topics = [{"name": "cloud-souverain", "keywords": ["S3NS", "Bleu"], "chats": [TOPIC_CHAT]}]
    # no backoff: every crawl of a test checks the page, failing or not
    crawl_defaults = {"interval": "1h", "timeout": "5s", "delay": "0s", "max_backoff": "0s"}
    return write_config(tmp_path / "config.yaml", [source], topics, crawl=crawl_defaults)


def test_a_changed_line_is_alerted_once_with_its_diff(tmp_path: Path, page: LivePage, fake_bot: FakeBotAPI) -> None:
    config = watch_config(tmp_path, page)
    assert crawl(config, fake_bot) == [], "the first check is the baseline"
    page.body = offers("OVHcloud", "Outscale", "Bleu")
    sent = crawl(config, fake_bot)
    chats = sorted(int(c.params["chat_id"]) for c in fake_bot.sent())
    assert chats == sorted([TOPIC_CHAT, WATCH_CHAT]), "the watch's chat, and the topic matching the added line"
    assert all("Changed: Offres qualifiées" in t and "+ Bleu | SecNumCloud 3.2" in t for t in sent)
    assert all("+ OVHcloud" not in t for t in sent), "only what changed is shown"
    assert crawl(config, fake_bot) == [], "an unchanged page sends nothing"


def test_only_a_timestamp_changed_is_no_change(tmp_path: Path, page: LivePage, fake_bot: FakeBotAPI) -> None:
    config = watch_config(tmp_path, page, select="#offres, p")
    crawl(config, fake_bot)
    page.body = offers("OVHcloud", "Outscale", stamp="04/12/2026 18:42")
    assert crawl(config, fake_bot) == []
    history = run_veille("watch", "history", "anssi-offres", "--config", str(config))
    assert history.returncode == 0, history.stderr
    assert "version 1" in history.stdout and "version 2" not in history.stdout


def test_a_row_added_to_the_selected_table_is_alerted_and_the_rest_of_the_page_ignored(
        tmp_path: Path, page: LivePage, fake_bot: FakeBotAPI) -> None:
    config = watch_config(tmp_path, page, select="#offres")
    crawl(config, fake_bot)
    page.body = offers("OVHcloud", "Outscale", "S3NS").replace("Accueil", "Accueil · Presse")
    sent = crawl(config, fake_bot)
    assert len(sent) == 2 and all("+ S3NS | SecNumCloud 3.2" in t for t in sent)
    assert all("Presse" not in t for t in sent), "outside select: is not watched"
    history = run_veille("watch", "history", "anssi-offres", "--config", str(config))
    assert "version 2" in history.stdout and "+ S3NS | SecNumCloud 3.2" in history.stdout


def test_a_removed_row_tells_the_watch_chat_and_no_topic(tmp_path: Path, page: LivePage,
                                                        fake_bot: FakeBotAPI) -> None:
    config = watch_config(tmp_path, page, select="#offres")
    crawl(config, fake_bot)
    page.body = offers("OVHcloud")
    sent = crawl(config, fake_bot)
    assert [int(c.params["chat_id"]) for c in fake_bot.sent()] == [WATCH_CHAT]
    assert "- Outscale | SecNumCloud 3.2" in sent[0]


def test_a_503_once_then_the_same_page_sends_nothing(tmp_path: Path, page: LivePage, fake_bot: FakeBotAPI) -> None:
    config = watch_config(tmp_path, page)  # the whole page: an error page is never taken for a version
    crawl(config, fake_bot)
    page.status, page.body = 503, "<html><body>Service indisponible</body></html>"
    assert crawl(config, fake_bot) == []
    page.status, page.body, before = 200, offers("OVHcloud", "Outscale"), page.fetches
    assert crawl(config, fake_bot) == []
    assert page.fetches == before + 1, "the page was checked again, and found unchanged"


def test_a_page_gone_for_several_checks_is_reported_once(tmp_path: Path, page: LivePage,
                                                         fake_bot: FakeBotAPI) -> None:
    config = watch_config(tmp_path, page, select="#offres")
    crawl(config, fake_bot)
    page.status, page.body = 404, "<html><head><title>Introuvable</title></head><body>Page introuvable</body></html>"
    sent = [t for _ in range(4) for t in crawl(config, fake_bot)]
    assert page.fetches == 5
    assert len(sent) == 1 and "Gone: Offres qualifiées" in sent[0] and "HTTP 404" in sent[0]
    assert [int(c.params["chat_id"]) for c in fake_bot.sent()] == [WATCH_CHAT]
