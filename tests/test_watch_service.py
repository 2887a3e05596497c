"""A watched page in the real `veille run`, checked on a short interval: a change alerted once, churn never."""

from pathlib import Path

from tests.conftest import Site
from tests.fakebot import FakeBotAPI
from tests.test_service import RunningService, service_env  # noqa: F401 (a fixture)
from tests.test_watch_crawl import TOPIC_CHAT, WATCH_CHAT, LivePage, offers, watch_config


def test_run_alerts_a_change_once_and_not_a_timestamp_or_a_503(tmp_path: Path, site: Site, fake_bot: FakeBotAPI,
                                                               service_env: dict[str, str]) -> None:  # noqa: F811
    page = LivePage(site, "/offres", offers("OVHcloud"))
    config = watch_config(tmp_path, page, select="#offres, p", interval="1s")
    service = RunningService(config, service_env)
    try:
        service.wait_for(lambda: page.fetches >= 1)  # the baseline
        page.body = offers("OVHcloud", "Bleu")
        service.wait_for(lambda: len(fake_bot.sent()) == 2)
        page.body = offers("OVHcloud", "Bleu", stamp="05/12/2026 08:30")
        fetches = page.fetches
        service.wait_for(lambda: page.fetches >= fetches + 2)
        page.status = 503
        fetches = page.fetches
        service.wait_for(lambda: page.fetches >= fetches + 1)
        page.status = 200
        fetches = page.fetches
        service.wait_for(lambda: page.fetches >= fetches + 2)
        _, err = service.stop()
    finally:
        service.process.kill()
    assert service.process.returncode == 0, err
    sent = fake_bot.sent()
    assert sorted(int(c.params["chat_id"]) for c in sent) == sorted([TOPIC_CHAT, WATCH_CHAT])
    assert all("+ Bleu | SecNumCloud 3.2" in c.params["text"] for c in sent)
