"""Alerts beyond Telegram, through Apprise: email to a local SMTP server, json:// webhooks to a local HTTP
endpoint, Matrix to a fake homeserver, all on 127.0.0.1; recipients checked and masked in config."""

import asyncio
import email
import email.policy
import io
import json
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from alerts.apprise_sender import AppriseSender
from alerts.config import AlertsConfig, DeliveryRules, TelegramConfig, Topic, masked
from alerts.dispatcher import Channels, ConsoleSender, deliver
from tests.conftest import port, write_config
from tests.outbox_helpers import archive, queue


class Inbox:
    """An aiosmtpd handler keeping every message it is given, after `delay` seconds."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.delay = 0.0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        await asyncio.sleep(self.delay)
        parsed = email.message_from_bytes(envelope.content or b"", policy=email.policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:  # a free port: aiosmtpd's Controller checks it is up by connecting to it
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=free)
    controller.start()
    try:
        yield inbox, free
    finally:
        controller.stop()


def mail_url(port: int) -> str:
    return f"mailto://127.0.0.1:{port}?from=veille@example.org&to=ana@example.org&mode=insecure"


def deliver_to(tmp_path: Path, rules: DeliveryRules | None = None, patience: float = 0.0) -> Any:
    sender = Channels(ConsoleSender(), AppriseSender())
    return asyncio.run(deliver(port(archive(tmp_path)), sender, "Europe/Paris", patience=patience, rules=rules))


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None, "the email has an HTML part"
    return str(part.get_content())  # type: ignore[attr-defined]


def test_an_alert_arrives_as_an_html_email_titled_with_the_article(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, smtp_port = smtp
    queue(archive(tmp_path), 1, [mail_url(smtp_port)], title="SecNumCloud & le cloud <souverain>")
    report = deliver_to(tmp_path)
    assert report.sent == 1
    [message] = inbox.messages
    assert message["Subject"] == "SecNumCloud & le cloud <souverain>"
    body = html_of(message)
    assert '<a href="http://127.0.0.1/articles/journal-cloud-0-1">' in body
    assert "SecNumCloud &amp; le cloud &lt;souverain&gt;" in body, "the title is escaped in the HTML"
    assert "<b>cloud</b> <b>souverain</b>" in body, "the matched words stand out"
    assert archive(tmp_path).execute("SELECT state FROM outbox").fetchall() == [("sent",)]


def test_a_daily_digest_arrives_as_one_email_under_its_heading(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, smtp_port = smtp
    url = mail_url(smtp_port)
    queue(archive(tmp_path), 3, [url], queued_at=datetime.now(UTC) - timedelta(days=2))
    alerts = AlertsConfig.model_validate({"recipients": {url: {"digest": "daily 08:00"}}})
    rules = DeliveryRules.build(alerts, [], TelegramConfig())
    assert deliver_to(tmp_path, rules).sent == 1
    [message] = inbox.messages
    assert message["Subject"].startswith("Résumé"), message["Subject"]
    body = html_of(message)
    assert all(f"Cloud souverain {i}" in body for i in range(3))


def test_json_webhooks_receive_title_and_plain_text(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    queue(archive(tmp_path), 2, [f"json://127.0.0.1:{httpserver.port}/hook"])
    assert deliver_to(tmp_path).sent == 2
    bodies = [json.loads(request.data) for request, _ in httpserver.log]
    assert [b["title"] for b in bodies] == ["Cloud souverain 0", "Cloud souverain 1"]
    assert "http://127.0.0.1/articles/journal-cloud-0-1" in bodies[0]["message"]
    assert "<" not in bodies[0]["message"], "a webhook gets plain text"


def test_a_refused_webhook_fails_for_good_with_the_reason(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gone", method="POST").respond_with_data("no such hook", status=404)
    queue(archive(tmp_path), 1, [f"json://127.0.0.1:{httpserver.port}/gone"])
    assert deliver_to(tmp_path).failed == 1
    state, error = archive(tmp_path).execute("SELECT state, last_error FROM outbox").fetchone()
    assert state == "failed" and "404" in error, error


def test_a_server_error_is_retried_then_sent(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("ok")
    queue(archive(tmp_path), 1, [f"json://127.0.0.1:{httpserver.port}/hook"])
    report = deliver_to(tmp_path, patience=10.0)
    assert report.sent == 1 and len(httpserver.log) == 2
    assert archive(tmp_path).execute("SELECT state FROM outbox").fetchone() == ("sent",)


def test_a_matrix_room_receives_html(tmp_path: Path, httpserver: HTTPServer) -> None:
    sent: list[dict[str, Any]] = []

    def homeserver(request: Request) -> Response:
        """A Matrix client-server API as far as sending with an access token goes."""
        if request.method == "PUT" and "/send/m.room.message/" in request.path:
            sent.append(json.loads(request.data))
            return Response(json.dumps({"event_id": "$1"}), content_type="application/json")
        answers = {"whoami": {"user_id": "@veille:example.org"}, "join": {"room_id": "!room:example.org"}}
        name = next((k for k in answers if k in request.path), "")
        return Response(json.dumps(answers.get(name, {})), content_type="application/json")

    httpserver.expect_request(re.compile("/_matrix/.*")).respond_with_handler(homeserver)
    url = f"matrix://syt_token@127.0.0.1:{httpserver.port}/!room:example.org?discovery=no"
    queue(archive(tmp_path), 1, [url])
    assert deliver_to(tmp_path).sent == 1, httpserver.log
    [event] = sent
    assert event["format"] == "org.matrix.custom.html"
    assert '<a href="http://127.0.0.1/articles/journal-cloud-0-1">' in event["formatted_body"]


def test_recipients_are_chat_ids_or_apprise_urls_with_secrets_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret-pw")
    topic = Topic.model_validate({"name": "t", "keywords": ["cloud"], "chats": [
        -1001, "mailtos://veille:${SMTP_PASSWORD}@smtp.example.org?to=ana@example.org"]})
    assert topic.chats[0] == -1001
    assert topic.chats[1] == "mailtos://veille:s3cret-pw@smtp.example.org?to=ana@example.org"
    assert "s3cret-pw" not in masked(topic.chats[1]) and "smtp.example.org" in masked(topic.chats[1])


def test_config_check_names_a_bad_apprise_url_and_an_unset_variable(tmp_path: Path) -> None:
    from veille.config import ConfigError, load

    path = tmp_path / "config.yaml"
    path.write_text("storage: {path: veille.db}\nsources: []\ntopics:\n"
                    "  - {name: t, keywords: [cloud], chats: [-1001, 'nosuch://secret@host']}\n"
                    "  - {name: u, keywords: [cloud], chats: ['mailtos://me:${NOT_SET_ANYWHERE}@host?to=a@b.org']}\n")
    with pytest.raises(ConfigError) as raised:
        load(path)
    shown = str(raised.value)
    assert "topics[0].chats[1]" in shown and "not an Apprise URL" in shown, shown
    assert "secret" not in shown
    assert "topics[1].chats[0]" in shown and "${NOT_SET_ANYWHERE} is not set" in shown, shown


def test_the_banner_names_url_recipients_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from veille.config import load
    from veille.progress import banner

    monkeypatch.setenv("HOOK_PASSWORD", "hunter2-secret")
    topics = [{"name": "t", "keywords": ["cloud"], "chats": [-1001, "json://veille:${HOOK_PASSWORD}@127.0.0.1/x"]}]
    shown = banner(load(write_config(tmp_path / "config.yaml", [], topics)), "crawl")
    assert "json://veille:****@127.0.0.1/x" in shown and "hunter2" not in shown, shown


def test_while_telegram_cannot_be_reached_the_other_channels_go_on_and_its_chats_wait(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    from veille.config import Config
    from veille.service import match_and_deliver

    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    db = archive(tmp_path)
    queue(db, 1, [1001, f"json://127.0.0.1:{httpserver.port}/hook"])
    config = Config.model_validate({"storage": {"path": str(tmp_path / "veille.db")}})
    report = asyncio.run(match_and_deliver(config, port(db), None))  # None: Telegram cannot be reached
    assert report is not None and report.sent == 1 and len(httpserver.log) == 1
    waiting = db.execute("SELECT state, attempts, not_before FROM outbox WHERE chat_id = 1001").fetchall()
    assert waiting == [("pending", 0, None)], "the chat's alert waits as it was, sent as soon as Telegram is back"
    telegram = ConsoleSender(io.StringIO())
    asyncio.run(deliver(port(db), Channels(telegram), "UTC", patience=0))
    assert db.execute("SELECT state FROM outbox WHERE chat_id = 1001").fetchone() == ("sent",)
