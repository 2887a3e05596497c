"""Issue 17: who may change a group's alerts, and buttons whose data the bot never wrote."""

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from alerts import buttons
from storage import chats, open_archive
from tests import fakebot
from tests.fakebot import FakeBotAPI
from tests.test_bot import ADMIN, GROUP, WATCHER, add_article, converse, state_for

MEMBER, GROUP_ADMIN, OWNER = 555, 556, 557
ANONYMOUS_ADMIN_BOT = 1087968824  # the user Telegram names as the sender of an anonymous admin's messages
REFUSED_FR = "Seuls les administrateurs de ce groupe peuvent suspendre ou reprendre ses alertes."
INVALID_FR = "Ce bouton n'est plus valable."

FORGED = ["more:99999999999999999999999:1", "more:1:99999999999999999999999", "more:1:-5", "more:x:y",
          "more:1", "more:1:5:7", "more::", "more:0:5", "more:1:100000", "more:١:٥", "more:1:5\n", "more",
          "sub:", "sub:météo", "sub:IA", "sub:ia:x", "unsub:" + "x" * 80, "sub:ia" + "x" * 64, "mute:30d",
          "unmute", ":", "sub:\ud800"]


@pytest.fixture
def archive(tmp_path: Path) -> sqlite_utils.Database:
    return open_archive(tmp_path / "veille.db")


@pytest.fixture(autouse=True)
def no_env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("TELEGRAM_API_URL", raising=False)


def asked(fake: FakeBotAPI) -> list[tuple[int, int]]:
    """The (chat, user) pairs the bot asked Telegram about."""
    return [(int(c.params["chat_id"]), int(c.params["user_id"])) for c in fake.sent("getChatMember")]


def test_a_member_can_neither_mute_nor_unmute_the_group(fake_bot: FakeBotAPI, archive: Any) -> None:
    converse(fake_bot, state_for(fake_bot, archive), fakebot.message("/mute@veille_test_bot 30d", GROUP, MEMBER))
    assert chats.muted_until(archive, GROUP) is None
    until = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    chats.mute(archive, GROUP, until)
    converse(fake_bot, state_for(fake_bot, archive), fakebot.message("/unmute", GROUP, MEMBER),
             fakebot.message("/mute 1d", GROUP, MEMBER, language="en"))
    assert chats.muted_until(archive, GROUP) == until
    assert fake_bot.replies(GROUP) == [REFUSED_FR, REFUSED_FR,
                                       "Only this group's administrators may pause or resume its alerts."]
    assert asked(fake_bot) == [(GROUP, MEMBER)] * 3


def test_the_groups_administrators_and_its_creator_may_mute_it(fake_bot: FakeBotAPI, archive: Any) -> None:
    fake_bot.statuses |= {(GROUP, GROUP_ADMIN): "administrator", (GROUP, OWNER): "creator"}
    converse(fake_bot, state_for(fake_bot, archive), fakebot.message("/mute 2h", GROUP, GROUP_ADMIN))
    assert chats.muted_until(archive, GROUP) is not None
    converse(fake_bot, state_for(fake_bot, archive), fakebot.message("/unmute", GROUP, OWNER))
    assert chats.muted_until(archive, GROUP) is None
    muted, unmuted = fake_bot.replies(GROUP)
    assert muted.startswith("Alertes suspendues jusqu'au") and unmuted == "Les alertes reprennent."
    assert asked(fake_bot) == [(GROUP, GROUP_ADMIN), (GROUP, OWNER)]


def test_a_veille_admin_may_mute_a_group_and_anyone_their_own_chat(fake_bot: FakeBotAPI, archive: Any) -> None:
    converse(fake_bot, state_for(fake_bot, archive), fakebot.message("/mute 2h", GROUP, ADMIN),
             fakebot.message("/mute 3h", WATCHER))
    assert chats.muted_until(archive, GROUP) is not None and chats.muted_until(archive, WATCHER) is not None
    assert not fake_bot.sent("getChatMember"), "a veille admin and a private chat need no question to Telegram"


def test_an_anonymous_group_admin_may_mute_it(fake_bot: FakeBotAPI, archive: Any) -> None:
    update = fakebot.message("/mute 2h", GROUP, ANONYMOUS_ADMIN_BOT)
    update["message"]["from"] |= {"is_bot": True, "username": "GroupAnonymousBot"}
    update["message"]["sender_chat"] = {"id": GROUP, "type": "supergroup", "title": "group"}
    converse(fake_bot, state_for(fake_bot, archive), update)
    assert chats.muted_until(archive, GROUP) is not None


def test_a_group_stays_subscribed_by_veille_admins_only(fake_bot: FakeBotAPI, archive: Any) -> None:
    fake_bot.statuses[(GROUP, GROUP_ADMIN)] = "administrator"
    converse(fake_bot, state_for(fake_bot, archive), fakebot.callback("sub:ia", GROUP, MEMBER),
             fakebot.callback("sub:ia", GROUP, GROUP_ADMIN),
             fakebot.message("/subscribe ia", GROUP, GROUP_ADMIN))
    assert chats.subscriptions_of(archive, GROUP) == set()
    refusal = "Seuls les administrateurs du bot peuvent abonner ou désabonner un groupe."
    assert [c.params.get("text") for c in fake_bot.sent("answerCallbackQuery")] == [refusal, refusal]
    assert fake_bot.replies(GROUP) == [refusal]


@pytest.mark.parametrize("data", FORGED)
def test_forged_button_data_is_not_read(data: str) -> None:
    assert buttons.parse(data, ["cloud-souverain", "ia"]) is None


def test_the_bots_own_button_data_reads_back() -> None:
    topics = ["cloud-souverain", "ia"]
    assert buttons.parse(buttons.follow_data("ia", on=True), topics) == buttons.Follow("ia", on=True)
    assert buttons.parse(buttons.follow_data("ia", on=False), topics) == buttons.Follow("ia", on=False)
    assert buttons.parse(buttons.more_data(3, 10), topics) == buttons.More(3, 10)
    assert buttons.follow_data("x" * 70, on=True) is None, "Telegram takes 64 bytes at most"
    assert buttons.more_data(3, buttons.MAX_OFFSET + 1) is None, "results stop at a bounded offset"


def test_forged_buttons_are_answered_logged_once_and_change_nothing(fake_bot: FakeBotAPI, archive: Any,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    for n in range(7):
        add_article(archive, f"s{n}", f"Cloud souverain, épisode {n}", "Le cloud souverain.", None,
                    datetime.now(UTC) - timedelta(hours=n))
    presses = []
    for n, data in enumerate(FORGED):
        press = fakebot.callback(data, WATCHER)
        press["callback_query"]["id"] = f"forged-{n}"
        presses.append(press)
    converse(fake_bot, state_for(fake_bot, archive), fakebot.message("/search souverain", WATCHER), *presses)
    answers = {c.params["callback_query_id"]: c.params.get("text") for c in fake_bot.sent("answerCallbackQuery")}
    assert answers == {f"forged-{n}": INVALID_FR for n in range(len(FORGED))}
    assert len(fake_bot.replies(WATCHER)) == 1, "only the search itself was answered"
    assert not fake_bot.sent("editMessageText")
    assert chats.subscriptions_of(archive, WATCHER) == set() and chats.muted_until(archive, WATCHER) is None
    ignored = [r for r in caplog.records if "ignored a button" in r.getMessage()]
    assert len(ignored) == len(FORGED)
    assert all(r.levelno <= logging.WARNING and r.exc_info is None for r in caplog.records)
    assert "Traceback" not in caplog.text
