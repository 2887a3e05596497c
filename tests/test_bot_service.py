"""The bot inside `veille run`: the real command, polling a fake Bot API, answers a watcher's /start."""

import os
import signal
import subprocess
import time
from pathlib import Path

from tests import fakebot
from tests.conftest import UNRELATED, VEILLE, Site, write_config
from tests.fakebot import FakeBotAPI

TOKEN = "123456:TEST-token-never-printed"
WATCHER = 77


def test_run_answers_commands_from_its_own_loop(tmp_path: Path, site: Site, fake_bot: FakeBotAPI) -> None:
    feed = site.feed("/rss.xml", [UNRELATED])
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed}],
                          telegram={"allowed_chats": [WATCHER]})
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env |= {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": f"{fake_bot.url}/bot"}
    fake_bot.push(fakebot.message("/start", WATCHER))
    fake_bot.push(fakebot.message("/start", 78))
    service = subprocess.Popen([*VEILLE, "run", "--config", str(config)], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not fake_bot.replies(78) and time.monotonic() < deadline and service.poll() is None:
            time.sleep(0.2)
        service.send_signal(signal.SIGINT)
        out, err = service.communicate(timeout=30)
    finally:
        service.kill()
    assert service.returncode == 0, err
    assert "/subscribe" in fake_bot.replies(WATCHER)[0]
    assert fake_bot.replies(78)[0].startswith("Désolé")
    assert "refused chat 78" in err and "add 78 to a topic's chats" in err, "how an admin finds a chat id"
    assert TOKEN not in out + err


def test_a_bot_role_leader_that_could_not_reach_telegram_tries_again(tmp_path: Path, site: Site,
                                                                     fake_bot: FakeBotAPI) -> None:
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": site.feed("/rss.xml", [])}],
                          telegram={"allowed_chats": [WATCHER]})
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env |= {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": f"{fake_bot.url}/bot"}
    fake_bot.script["getMe"] = [("500", None)]  # Telegram down when the leader first starts its bot
    fake_bot.push(fakebot.message("/start", WATCHER))
    service = subprocess.Popen([*VEILLE, "run", "--role", "bot", "--config", str(config)], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not fake_bot.replies(WATCHER) and time.monotonic() < deadline and service.poll() is None:
            time.sleep(0.2)
        service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=30)
    finally:
        service.kill()
    assert service.returncode == 0, err
    assert "Telegram cannot be reached" in err
    assert fake_bot.replies(WATCHER), "the bot started once Telegram answered"
