"""Delivery against the fake Bot API: rate limits, server errors, hangs and dead chats."""

import asyncio
from pathlib import Path

from alerts.bot import build_application
from alerts.config import TelegramConfig
from alerts.dispatcher import TelegramSender, deliver
from tests.conftest import port, run_veille, write_config
from tests.fakebot import FakeBotAPI
from tests.outbox_helpers import archive, queue

TOKEN = "123456:TEST-token-never-printed"


def run_delivery(fake: FakeBotAPI, tmp_path: Path, patience: float = 15.0) -> None:
    async def go() -> None:
        config = TelegramConfig(api_url=f"{fake.url}/bot", timeout="1s")  # type: ignore[arg-type]
        bot = build_application(config, TOKEN).bot
        await bot.initialize()
        try:
            await deliver(port(archive(tmp_path)), TelegramSender(bot), "Europe/Paris", patience=patience)
        finally:
            await bot.shutdown()

    asyncio.run(go())


def rows(tmp_path: Path) -> list[dict]:
    return list(archive(tmp_path).query("SELECT * FROM outbox ORDER BY id"))


def test_429_waits_retry_after_then_sends(tmp_path: Path, fake_bot: FakeBotAPI) -> None:
    queue(archive(tmp_path), 1, [1001])
    fake_bot.script["sendMessage"] = [("429", 1)]
    run_delivery(fake_bot, tmp_path)
    assert len(fake_bot.sent()) == 1
    assert [r["state"] for r in rows(tmp_path)] == ["sent"]


def test_server_error_is_retried_with_backoff(tmp_path: Path, fake_bot: FakeBotAPI) -> None:
    queue(archive(tmp_path), 1, [1001])
    fake_bot.script["sendMessage"] = [("500", None)]
    run_delivery(fake_bot, tmp_path)
    assert len(fake_bot.sent()) == 1
    (row,) = rows(tmp_path)
    assert row["state"] == "sent" and row["attempts"] == 2
    assert "Bad Gateway" in row["last_error"]


def test_a_hanging_request_times_out_and_other_chats_go_on(tmp_path: Path, fake_bot: FakeBotAPI) -> None:
    db = archive(tmp_path)
    queue(db, 1, [1001], topic="a")
    queue(db, 1, [1002], topic="b")
    fake_bot.script["sendMessage"] = [("hang", 4)]
    run_delivery(fake_bot, tmp_path)
    chats = [c.params["chat_id"] for c in fake_bot.sent()]
    assert chats == ["1002", "1001"], "the second chat is served while the first one waits for its retry"
    assert [r["state"] for r in rows(tmp_path)] == ["sent", "sent"]
    assert "Timed out" in rows(tmp_path)[0]["last_error"]


def test_chat_not_found_fails_for_good_and_shows_in_status(tmp_path: Path, fake_bot: FakeBotAPI) -> None:
    db = archive(tmp_path)
    queue(db, 2, [-1002, 1001])
    fake_bot.fail_chats[-1002] = "Bad Request: chat not found"
    run_delivery(fake_bot, tmp_path)
    assert sorted(c.params["chat_id"] for c in fake_bot.sent()) == ["1001", "1001"]
    by_chat = {(r["chat_id"], r["state"]) for r in rows(tmp_path)}
    assert by_chat == {(-1002, "failed"), (1001, "sent")}
    config = write_config(tmp_path / "config.yaml", [])
    status = run_veille("status", "--config", str(config))
    assert status.returncode == 0, status.stderr
    assert "2 failed" in status.stdout
    assert status.stdout.lower().count("chat not found") == 2
    assert "to chat -1002 (cloud, 'Cloud souverain 1')" in status.stdout
