"""Email and webhook recipients through the real `veille` command: killed mid-delivery, and a refusal as
`veille status` shows it."""

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

from pytest_httpserver import HTTPServer

from alerts.apprise_sender import AppriseSender
from alerts.dispatcher import Channels, ConsoleSender, deliver
from tests.conftest import VEILLE, Article, Site, distinct_text, port, recent, run_veille, write_config
from tests.outbox_helpers import archive, queue
from tests.test_channels import Inbox, mail_url, smtp  # noqa: F401  (smtp: the fixture)


def test_killed_mid_email_delivery_loses_nothing_and_repeats_at_most_one(
        tmp_path: Path, site: Site, smtp: tuple[Inbox, int]) -> None:  # noqa: F811
    inbox, smtp_port = smtp
    inbox.delay = 0.3  # the SMTP server accepting slowly: the kill lands in the middle of delivery
    stories = [Article(f"cloud-{i}", f"Cloud souverain : épisode {i}", distinct_text(i), recent(1))
               for i in range(20)]
    # a Telegram chat (the console, with no token) and an email address, side by side
    topic = {"name": "cloud", "keywords": ["cloud souverain"], "chats": [1001, mail_url(smtp_port)]}
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": site.feed("/rss.xml", stories)}],
                          [topic])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    crawl = subprocess.Popen([*VEILLE, "crawl", "--config", str(config)], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(inbox.messages) < 5 and time.monotonic() < deadline and crawl.poll() is None:
            time.sleep(0.05)
        crawl.send_signal(signal.SIGKILL)
        crawl.wait(timeout=10)
    finally:
        crawl.kill()
    before = len(inbox.messages)
    assert 5 <= before < 20, "the kill must land mid-delivery"

    inbox.delay = 0.0
    again = run_veille("crawl", "--config", str(config))
    assert again.returncode == 0, again.stderr
    subjects = [str(m["Subject"]) for m in inbox.messages]
    counts = {s.title: subjects.count(s.title) for s in stories}
    assert all(n >= 1 for n in counts.values()), f"lost alerts: {counts}"
    assert sum(n - 1 for n in counts.values()) <= 1, f"repeated alerts: {counts}"


def test_status_shows_a_refused_recipient_with_the_reason_and_no_password(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gone", method="POST").respond_with_data("no such hook", status=404)
    url = f"json://veille:hunter2-secret@127.0.0.1:{httpserver.port}/gone"
    queue(archive(tmp_path), 1, [url])
    asyncio.run(deliver(port(archive(tmp_path)), Channels(ConsoleSender(), AppriseSender()), "Europe/Paris",
                        patience=0))
    config = write_config(tmp_path / "config.yaml", [], [])
    status = run_veille("status", "--config", str(config))
    assert status.returncode == 0, status.stderr
    assert "1 failed" in status.stdout and "404" in status.stdout, status.stdout
    line = next(line for line in status.stdout.splitlines() if "failed alert" in line)
    assert f"json://veille:****@127.0.0.1:{httpserver.port}/gone" in line, line
    assert "hunter2" not in status.stdout + status.stderr
