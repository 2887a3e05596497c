"""The archive's disk fills while alerts are due: delivery stops (said once), no alert goes out more than
twice, and once space returns everything is delivered and the archive is intact.

The archive lives on a small tmpfs in a private mount namespace (`unshare -m`, as root), filled and freed
by a helper inside it when the test says so.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import VEILLE, Site, write_config
from tests.fakebot import FakeBotAPI
from tests.test_shutdown import TOPIC, story

SCRIPT = r"""
mount -t tmpfs -o size=4m tmpfs "$ARCH" || exit 97
( while [ ! -e "$T/fill" ]; do sleep 0.1; done
  dd if=/dev/zero of="$ARCH/filler" bs=4k 2>/dev/null; touch "$T/filled"
  while [ ! -e "$T/free" ]; do sleep 0.1; done
  rm -f "$ARCH/filler"; touch "$T/freed" ) &
"$@" &
echo $! > "$T/pid"
wait $!
rc=$?
"$PYTHON" -c "$CHECK" "$ARCH/veille.db" > "$T/integrity"
exit $rc
"""
CHECK = "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])"


def can_unshare() -> bool:
    try:
        return subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def wait_for(condition: object, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.skipif(not can_unshare(), reason="needs a private mount namespace (root, unshare -m)")
def test_a_full_disk_stops_delivery_without_flooding_and_loses_nothing(tmp_path: Path, site: Site,
                                                                       fake_bot: FakeBotAPI) -> None:
    arch = tmp_path / "archive"
    arch.mkdir()
    news = [story(i) for i in range(12)]
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": site.feed("/rss.xml", news),
                                                      "interval": "2s"}], [TOPIC])
    data = yaml.safe_load(config.read_text())
    data["storage"]["path"] = str(arch / "veille.db")
    config.write_text(yaml.safe_dump(data))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")} | {
        "TELEGRAM_BOT_TOKEN": "123456:TEST-token-never-printed", "TELEGRAM_API_URL": f"{fake_bot.url}/bot",
        "ARCH": str(arch), "T": str(tmp_path), "PYTHON": sys.executable, "CHECK": CHECK}
    fake_bot.delay = 0.4
    process = subprocess.Popen(["unshare", "-m", "sh", "-c", SCRIPT, "sh", *VEILLE, "run", "--config", str(config)],
                               env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        wait_for(lambda: len(fake_bot.sent()) >= 2, "the first alerts")
        (tmp_path / "fill").touch()
        wait_for((tmp_path / "filled").exists, "the disk to fill")
        full_at = len(fake_bot.sent())
        time.sleep(12)  # several delivery rounds (every 5 s) with the disk full
        during = len(fake_bot.sent()) - full_at
        (tmp_path / "free").touch()
        wait_for((tmp_path / "freed").exists, "the disk to be freed")
        wait_for(lambda: len({t.split("</a>")[0] for t in (c.params["text"] for c in fake_bot.sent())}) == 12,
                 "every alert once space returns")
        os.kill(int((tmp_path / "pid").read_text()), signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    titles = [c.params["text"].split("</a>")[0] for c in fake_bot.sent()]
    assert max(titles.count(t) for t in set(titles)) <= 2, "no alert delivered more than twice"
    assert during <= 1, f"{during} messages sent while the archive could not be written"
    assert err.count("delivery stops until the archive can be written again") == 1, err
    assert "can be written again: delivery resumes" in err
    assert (tmp_path / "integrity").read_text().strip() == "ok"
