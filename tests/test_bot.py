"""The Telegram bot's commands: the real Application polling a fake Bot API, with scripted updates."""

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from alerts.access import TokenBucket
from alerts.bot import start_bot, stop_bot
from alerts.commands import BotState
from alerts.config import TelegramConfig, Topic
from storage import chats, health, open_archive, outbox
from storage.articles import store
from tests import fakebot
from tests.conftest import port
from tests.fakebot import FakeBotAPI

TOKEN = "123456:TEST-token-of-the-bot"
WATCHER = 111  # private chat named in a topic
ADMIN = 222
STRANGER = 333
GROUP = -1005  # a group named in allowed_chats
OBSERVER = 999  # the chat whose /help marks the end of a script


@pytest.fixture
def archive(tmp_path: Path) -> sqlite_utils.Database:
    return open_archive(tmp_path / "veille.db")


@pytest.fixture(autouse=True)
def no_env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("TELEGRAM_API_URL", raising=False)


def state_for(fake: FakeBotAPI, archive: sqlite_utils.Database, **extra: Any) -> BotState:
    telegram = TelegramConfig(token=TOKEN, api_url=f"{fake.url}/bot", admins=[ADMIN],
                              allowed_chats=[GROUP, OBSERVER])
    topics = [Topic(name="cloud-souverain", description="Cloud souverain & <SecNumCloud>",
                    keywords=["cloud souverain"], chats=[WATCHER]),
              Topic(name="ia", description="Intelligence artificielle", keywords=["IA"])]
    extra.setdefault("bucket", TokenBucket(capacity=50))  # scripts come in bursts; one test is about floods
    return BotState(telegram, topics, port(archive), **extra)


def converse(fake: FakeBotAPI, state: BotState, *updates: dict[str, Any]) -> None:
    """Start the bot, feed it these updates, and stop once it has answered all of them."""
    async def run() -> None:
        application = await start_bot(state)
        assert application is not None
        seen = len(fake.replies(OBSERVER))
        try:
            for update in updates:
                fake.push(update)
            # updates are handled in order: the observer's answer comes after all the others
            fake.push(fakebot.message("/help", OBSERVER))
            deadline = time.monotonic() + 15
            while len(fake.replies(OBSERVER)) == seen and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert len(fake.replies(OBSERVER)) > seen, "the bot never answered"
        finally:
            await stop_bot(application)

    asyncio.run(run())


def only(replies: list[str]) -> str:
    assert len(replies) == 1, replies
    return replies[0]


def keyboard(call: fakebot.Call) -> list[str]:
    markup = call.params.get("reply_markup")
    if not markup:
        return []
    data = json.loads(markup) if isinstance(markup, str) else markup
    return [b["callback_data"] for row in data["inline_keyboard"] for b in row]


def add_article(archive: sqlite_utils.Database, slug: str, title: str, text: str, topic: str | None,
                published: datetime) -> None:
    stored = store(archive, {"source": "journal", "url": f"https://example.org/{slug}",
                             "canonical_url": f"https://example.org/{slug}", "guid": slug, "title": title,
                             "text": text, "published": published.isoformat(), "full_text": True})
    article = next(iter(archive.query("SELECT * FROM articles WHERE id = ?", [stored.article_id])))
    found = [outbox.Match(topic, [topic])] if topic else []
    outbox.record_matches(archive, article, found, alert=False)


def test_start_and_help_answer_in_french_and_in_english(fake_bot: FakeBotAPI, archive: Any) -> None:
    converse(fake_bot, state_for(fake_bot, archive), fakebot.message("/start", WATCHER),
             fakebot.message("/help", ADMIN, language="en-GB"))
    french, english = only(fake_bot.replies(WATCHER)), only(fake_bot.replies(ADMIN))
    assert "suit l'actualité" in french and "/subscribe" in french and "/search" in french
    assert "follows news" in english and "/mute" in english
    assert fake_bot.sent()[0].params["parse_mode"] == "HTML"
    assert fake_bot.sent("setMyCommands"), "the command menu is announced"
    assert all(call.token == TOKEN for call in fake_bot.calls)


def test_topics_show_descriptions_escaped_and_what_this_chat_follows(fake_bot: FakeBotAPI, archive: Any) -> None:
    chats.subscribe(archive, WATCHER, "ia")
    converse(fake_bot, state_for(fake_bot, archive), fakebot.message("/topics", WATCHER),
             fakebot.message("/topics", GROUP, ADMIN))
    mine, group = fake_bot.replies(WATCHER)[0], fake_bot.replies(GROUP)[0]
    assert "Cloud souverain &amp; &lt;SecNumCloud&gt;" in mine
    assert "<b>cloud-souverain</b>" in mine and "📌 suivi (configuration)" in mine
    assert "<b>ia</b> — Intelligence artificielle (✅ suivi)" in mine
    assert group.count("non suivi") == 2
    calls = [c for c in fake_bot.sent() if int(c.params["chat_id"]) == GROUP]
    assert keyboard(calls[0]) == ["sub:cloud-souverain", "sub:ia"]


def test_subscribe_and_unsubscribe_are_stored_and_config_chats_stay(fake_bot: FakeBotAPI, archive: Any) -> None:
    converse(fake_bot, state_for(fake_bot, archive),
             fakebot.message("/subscribe IA", WATCHER),
             fakebot.message("/subscribe ia", WATCHER),
             fakebot.message("/subscribe", WATCHER),
             fakebot.message("/subscribe météo", WATCHER),
             fakebot.message("/unsubscribe cloud-souverain", WATCHER))
    said = fake_bot.replies(WATCHER)
    assert said[0] == "Ce chat suit désormais « ia »."
    assert said[1] == "Ce chat suit déjà « ia »."
    assert "/subscribe SUJET" in said[2] and "cloud-souverain, ia" in said[2]
    assert "Sujet inconnu : météo" in said[3]
    assert "config.yaml" in said[4]
    assert chats.subscriptions_of(archive, WATCHER) == {"ia"}

    converse(fake_bot, state_for(fake_bot, archive), fakebot.message("/unsubscribe ia", WATCHER))
    assert fake_bot.replies(WATCHER)[-1] == "Ce chat ne suit plus « ia »."
    assert chats.subscriptions_of(archive, WATCHER) == set()


def test_buttons_subscribe_then_redraw_the_list(fake_bot: FakeBotAPI, archive: Any) -> None:
    converse(fake_bot, state_for(fake_bot, archive), fakebot.callback("sub:ia", WATCHER))
    assert chats.subscriptions_of(archive, WATCHER) == {"ia"}
    answered = only([c.params.get("text", "") for c in fake_bot.sent("answerCallbackQuery")])
    assert answered == "Ce chat suit désormais « ia »."
    edited = fake_bot.sent("editMessageText")
    assert len(edited) == 1 and "<b>ia</b> — Intelligence artificielle (✅ suivi)" in edited[0].params["text"]
    assert keyboard(edited[0]) == ["unsub:cloud-souverain", "unsub:ia"]


def test_groups_answer_commands_with_the_bot_suffix_and_only_admins_subscribe(fake_bot: FakeBotAPI,
                                                                                 archive: Any) -> None:
    converse(fake_bot, state_for(fake_bot, archive),
             fakebot.message("/help@veille_test_bot", GROUP, 555),
             fakebot.message("/subscribe@veille_test_bot ia", GROUP, 555),
             fakebot.message("/subscribe@veille_test_bot ia", GROUP, ADMIN),
             fakebot.message("/help@some_other_bot", GROUP, 555),
             fakebot.message("/weather@some_other_bot", GROUP, 555),
             fakebot.message("bonjour à tous", GROUP, 555))
    said = fake_bot.replies(GROUP)
    assert len(said) == 3, said
    assert "/topics" in said[0]
    assert said[1] == "Seuls les administrateurs du bot peuvent abonner ou désabonner un groupe."
    assert said[2] == "Ce chat suit désormais « ia »."
    assert chats.subscriptions_of(archive, GROUP) == {"ia"}


def test_latest_lists_the_last_matched_stories(fake_bot: FakeBotAPI, archive: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    add_article(archive, "a", "Doctrine <cloud> souverain", "Le cloud souverain avance.", "cloud-souverain",
                now - timedelta(hours=3))
    add_article(archive, "b", "L'IA au ministère", "Une IA pour les agents.", "ia", now - timedelta(hours=2))
    add_article(archive, "c", "La fibre dans le Cantal", "Rien à voir.", None, now - timedelta(hours=1))
    converse(fake_bot, state_for(fake_bot, archive),
             fakebot.message("/latest", WATCHER),
             fakebot.message("/latest cloud-souverain 1", WATCHER),
             fakebot.message("/latest 1", WATCHER),
             fakebot.message("/latest 500", WATCHER),
             fakebot.message("/latest météo", WATCHER))
    every, by_topic, one, too_many, unknown = fake_bot.replies(WATCHER)
    assert every.index("L&#x27;IA au ministère") < every.index("Doctrine &lt;cloud&gt; souverain")
    assert "Cantal" not in every
    assert '<a href="https://example.org/a">' in by_topic and "ministère" not in by_topic
    assert "ministère" in one and "Doctrine" not in one
    assert too_many.startswith("Usage : /latest")
    assert "Sujet inconnu : météo" in unknown


def test_search_pages_with_a_more_button_and_reads_bad_syntax_helpfully(fake_bot: FakeBotAPI,
                                                                         archive: Any) -> None:
    now = datetime.now(UTC)
    for n in range(7):
        add_article(archive, f"s{n}", f"Cloud souverain, épisode {n}", "Le cloud souverain & la <doctrine>.",
                    None, now - timedelta(hours=n))
    converse(fake_bot, state_for(fake_bot, archive),
             fakebot.message("/search souverain", WATCHER),
             fakebot.callback("more:1:5", WATCHER),
             fakebot.message('/search "cloud souverain', WATCHER),
             fakebot.message("/search l'État AND", WATCHER),
             fakebot.message("/search", WATCHER),
             fakebot.message("/search introuvable", WATCHER))
    first, second, unterminated, bad, empty, nothing = fake_bot.replies(WATCHER)
    assert "(1–5)" in first and first.count("<a href=") == 5 and "<b>souverain</b>" in first
    assert "&lt;doctrine&gt;" in first
    pages = [c for c in fake_bot.sent() if int(c.params["chat_id"]) == WATCHER]
    assert keyboard(pages[0]) == ["more:1:5"]
    assert fake_bot.sent("answerCallbackQuery")
    assert "(6–7)" in second and second.count("<a href=") == 2
    assert not keyboard(pages[1]), "the last page has no more button"
    assert "Je ne sais pas lire cette recherche" in unterminated
    assert "Essayez : /search &quot;l&quot; &quot;État&quot; &quot;AND&quot;" in bad
    assert "/search cloud souverain" in empty
    assert nothing == "Aucun résultat pour introuvable."

    converse(fake_bot, state_for(fake_bot, archive), fakebot.callback("more:1:5", WATCHER))
    assert fake_bot.replies(WATCHER)[-1] == "Cette recherche a expiré : relancez /search."


def test_mute_and_unmute_this_chat(fake_bot: FakeBotAPI, archive: Any) -> None:
    converse(fake_bot, state_for(fake_bot, archive), fakebot.message("/mute 2h", WATCHER),
             fakebot.message("/mute demain", WATCHER), fakebot.message("/mute 90d", WATCHER))
    muted, bad, too_long = fake_bot.replies(WATCHER)
    until = chats.muted_until(archive, WATCHER)
    assert until is not None and timedelta(hours=1.9) < until - datetime.now(UTC) <= timedelta(hours=2)
    assert muted.startswith("Alertes suspendues jusqu'au")
    assert bad.startswith("Usage : /mute 2h") and too_long == bad

    converse(fake_bot, state_for(fake_bot, archive), fakebot.message("/unmute", WATCHER))
    assert fake_bot.replies(WATCHER)[-1] == "Les alertes reprennent."
    assert chats.muted_until(archive, WATCHER) is None


def test_status_is_for_admins_only(fake_bot: FakeBotAPI, archive: Any) -> None:
    health.record_crawl(archive, "dinum", error="HTTP 503 <Service Unavailable>", seen=0, new=0)
    health.record_crawl(archive, "journal", error=None, seen=3, new=2)
    converse(fake_bot, state_for(fake_bot, archive), fakebot.message("/status", WATCHER),
             fakebot.message("/status", ADMIN, language="en"))
    assert only(fake_bot.replies(WATCHER)) == "Cette commande est réservée aux administrateurs du bot."
    report = only(fake_bot.replies(ADMIN))
    assert "<b>Failing sources</b>: 1" in report and "<b>dinum</b> ×1: HTTP 503 &lt;Service Unavailable&gt;" in report
    assert "journal" not in report
    assert "<b>Outbox</b>: 0 pending" in report and "<b>Version</b>: 0.1.0" in report
    assert "<b>Last crawl</b>: never" not in report


def test_strangers_are_refused_once_and_learn_nothing(fake_bot: FakeBotAPI, archive: Any) -> None:
    add_article(archive, "a", "Doctrine cloud souverain", "Le cloud souverain avance.", "cloud-souverain",
                datetime.now(UTC))
    converse(fake_bot, state_for(fake_bot, archive), fakebot.message("/topics", STRANGER),
             fakebot.message("/latest", STRANGER), fakebot.message("/search cloud", STRANGER),
             fakebot.callback("sub:ia", STRANGER), fakebot.message("/subscribe ia", -1009, ADMIN + 1))
    assert only(fake_bot.replies(STRANGER)).startswith("Désolé, ce bot est réservé à ses abonnés.")
    assert only(fake_bot.replies(-1009)).startswith("Désolé")
    assert chats.subscriptions_of(archive, STRANGER) == set() and not fake_bot.sent("editMessageText")
    assert not fake_bot.sent("answerCallbackQuery")


def test_unknown_commands_and_free_text_get_a_hint(fake_bot: FakeBotAPI, archive: Any) -> None:
    converse(fake_bot, state_for(fake_bot, archive), fakebot.message("/meteo <paris>", WATCHER),
             fakebot.message("bonjour", WATCHER))
    unknown, hint = fake_bot.replies(WATCHER)
    assert unknown == "Commande inconnue : /meteo. Essayez /help."
    assert hint == "Je ne comprends que les commandes. Essayez /help."


def test_a_flooding_user_is_throttled_and_told_once(fake_bot: FakeBotAPI, archive: Any) -> None:
    frozen: Callable[[], float] = lambda: 1000.0  # noqa: E731 (no refill: the test does not depend on speed)
    state = state_for(fake_bot, archive, bucket=TokenBucket(capacity=3, rate=1.0, clock=frozen))
    converse(fake_bot, state, *[fakebot.message("/help", WATCHER) for _ in range(10)],
             fakebot.message("/help", ADMIN))
    said = fake_bot.replies(WATCHER)
    assert len(said) == 4, said
    assert said[-1] == "Doucement : trop de commandes à la fois. Réessayez dans quelques secondes."
    assert len(fake_bot.replies(ADMIN)) == 1, "another user is not held back"


def test_long_answers_are_cut_to_fit_one_telegram_message(fake_bot: FakeBotAPI, archive: Any) -> None:
    now = datetime.now(UTC)
    for n in range(20):
        add_article(archive, f"long-{n}-" + "x" * 200, f"Cloud souverain {n} " + "très long titre " * 20,
                    "Le cloud souverain.", "cloud-souverain", now - timedelta(minutes=n))
    converse(fake_bot, state_for(fake_bot, archive), fakebot.message("/latest 20", WATCHER))
    latest = only(fake_bot.replies(WATCHER))
    assert 3000 < len(latest) <= 4096 and latest.endswith("\n…")


def test_a_failing_command_is_logged_answered_and_the_bot_goes_on(fake_bot: FakeBotAPI, archive: Any,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    state = state_for(fake_bot, archive)
    state.archive.close()  # every query of this command now fails
    converse(fake_bot, state, fakebot.message("/topics", WATCHER), fakebot.message("/help", ADMIN))
    assert only(fake_bot.replies(WATCHER)) == "Un problème est survenu ; il a été noté. Réessayez plus tard."
    assert "/topics" in only(fake_bot.replies(ADMIN))
    assert "bot command failed" in caplog.text and "StorageError" in caplog.text
    assert TOKEN not in caplog.text


def test_a_failed_poll_is_logged_in_one_line_and_polling_goes_on(fake_bot: FakeBotAPI, archive: Any,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    fake_bot.script["getUpdates"] = [("500", None)]
    converse(fake_bot, state_for(fake_bot, archive), fakebot.message("/start", WATCHER))
    assert "/topics" in only(fake_bot.replies(WATCHER))
    failures = [r for r in caplog.records if "polling Telegram for commands failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is None
    assert TOKEN not in caplog.text


def test_a_button_that_changes_nothing_leaves_the_list_quietly(fake_bot: FakeBotAPI, archive: Any) -> None:
    converse(fake_bot, state_for(fake_bot, archive), fakebot.callback("unsub:cloud-souverain", WATCHER),
             fakebot.callback("unsub:cloud-souverain", WATCHER))
    answers = [c.params.get("text", "") for c in fake_bot.sent("answerCallbackQuery")]
    assert len(answers) == 2 and all("config.yaml" in a for a in answers)
    assert len(fake_bot.sent("editMessageText")) == 1, "the second edit was refused as 'not modified'"
    assert fake_bot.replies(WATCHER) == [], "and no error message followed"


def test_a_group_an_admin_subscribed_is_let_in(fake_bot: FakeBotAPI, archive: Any) -> None:
    converse(fake_bot, state_for(fake_bot, archive), fakebot.message("/topics", -1010, 556),
             fakebot.message("/subscribe@veille_test_bot ia", -1010, ADMIN),
             fakebot.message("/topics", -1010, 556))
    refused, subscribed, listed = fake_bot.replies(-1010)
    assert refused.startswith("Désolé") and subscribed == "Ce chat suit désormais « ia »."
    assert "<b>ia</b> — Intelligence artificielle (✅ suivi)" in listed
