"""The bot inside `veille run`: the real command, polling a fake Bot API, answers a watcher's /start."""

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests import fakebot
from tests.conftest import UNRELATED, VEILLE, Site, write_config
from tests.fakebot import FakeBotAPI

TOKEN = "123456:TEST-token-never-printed"
WATCHER = 77


def run_until(config: Path, fake_bot: FakeBotAPI, done: Callable[[], object], *args: str,
              stop: int = signal.SIGINT) -> tuple[int, str, str]:
    """The real `veille run ARGS` on the fake Bot API until `done()` (60 s at most), then stopped by `stop`:
    its exit code, stdout and stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env |= {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": f"{fake_bot.url}/bot"}
    service = subprocess.Popen([*VEILLE, "run", *args, "--config", str(config)], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not done() and time.monotonic() < deadline and service.poll() is None:
            time.sleep(0.2)
        service.send_signal(stop)
        out, err = service.communicate(timeout=30)
    finally:
        service.kill()
    return service.returncode, out, err


def test_run_answers_commands_from_its_own_loop(tmp_path: Path, site: Site, fake_bot: FakeBotAPI) -> None:
    feed = site.feed("/rss.xml", [UNRELATED])
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed}],
                          telegram={"allowed_chats": [WATCHER]})
    fake_bot.push(fakebot.message("/start", WATCHER))
    fake_bot.push(fakebot.message("/start", 78))
    returncode, out, err = run_until(config, fake_bot, lambda: fake_bot.replies(78))
    assert returncode == 0, err
    assert "/subscribe" in fake_bot.replies(WATCHER)[0]
    assert fake_bot.replies(78)[0].startswith("Désolé")
    assert "refused chat 78" in err and "add 78 to a topic's chats" in err, "how an admin finds a chat id"
    assert TOKEN not in out + err


def test_a_bot_role_leader_that_could_not_reach_telegram_tries_again(tmp_path: Path, site: Site,
                                                                     fake_bot: FakeBotAPI) -> None:
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": site.feed("/rss.xml", [])}],
                          telegram={"allowed_chats": [WATCHER]})
    fake_bot.script["getMe"] = [("500", None)]  # Telegram down when the leader first starts its bot
    fake_bot.push(fakebot.message("/start", WATCHER))
    returncode, _, err = run_until(config, fake_bot, lambda: fake_bot.replies(WATCHER), "--role", "bot",
                                   stop=signal.SIGTERM)
    assert returncode == 0, err
    assert "Telegram cannot be reached" in err
    assert fake_bot.replies(WATCHER), "the bot started once Telegram answered"
