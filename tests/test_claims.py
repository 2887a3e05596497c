"""The claimed outbox: a row is sent only by the process holding its claim, once, and nothing is sent whose
claim or mark could not be written. Several dispatchers on one archive, dead claimers, an archive that
stops being writable between the send and its mark, a story matching two topics, a migrated group."""

import asyncio
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from alerts.bot import build_application
from alerts.config import TelegramConfig
from alerts.dispatcher import TelegramSender, dispatch
from alerts.format import Message
from storage import Archive, outbox
from tests.conftest import port
from tests.fakebot import FakeBotAPI
from tests.outbox_helpers import archive, queue

TOKEN = "123456:TEST-token-never-printed"


class SlowSender:
    """An in-memory channel that takes its time, recording every message it accepted."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.sent: list[tuple[int, str]] = []

    async def send(self, chat_id: int, message: Message) -> int | None:
        await asyncio.sleep(self.delay)
        self.sent.append((chat_id, message.plain))
        return len(self.sent)


def claim_as(db: sqlite_utils.Database, claimer: str, lease_until: datetime) -> None:
    with db.atomic():
        db.execute("UPDATE outbox SET state = 'sending', claimed_by = ?, lease_until = ?",
                   [claimer, lease_until.replace(microsecond=0).isoformat()])


def test_two_dispatchers_on_one_archive_send_each_alert_once(tmp_path: Path) -> None:
    queue(archive(tmp_path), 12, [1001])
    sender = SlowSender(delay=0.01)

    async def both() -> None:  # two connections, as two processes have: only the claims keep them apart
        with Archive.open(tmp_path / "veille.db") as one, Archive.open(tmp_path / "veille.db") as other:
            await asyncio.gather(dispatch(one, sender, "UTC"), dispatch(other, sender, "UTC"))

    asyncio.run(both())
    texts = [text for _, text in sender.sent]
    assert len(texts) == 12 and len(set(texts)) == 12
    assert outbox.counts(archive(tmp_path))["sent"] == 12


def test_a_row_claimed_by_a_live_process_waits_for_its_lease(tmp_path: Path) -> None:
    db = archive(tmp_path)
    queue(db, 1, [1001])
    claim_as(db, "another-host:4242", datetime.now(UTC) + timedelta(minutes=5))
    sender = SlowSender()
    asyncio.run(dispatch(port(db), sender, "UTC"))
    assert sender.sent == [], "another process holds it"
    claim_as(db, "another-host:4242", datetime.now(UTC) - timedelta(seconds=1))
    asyncio.run(dispatch(port(db), sender, "UTC"))
    assert len(sender.sent) == 1, "its lease ran out: sent again, once"
    asyncio.run(dispatch(port(db), sender, "UTC"))
    assert len(sender.sent) == 1


def test_the_claims_of_a_dead_process_of_this_host_are_given_back_at_once(tmp_path: Path) -> None:
    db = archive(tmp_path)
    queue(db, 2, [1001])
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    claim_as(db, f"{socket.gethostname()}:{int(dead.stdout)}", datetime.now(UTC) + timedelta(minutes=5))
    sender = SlowSender()
    asyncio.run(dispatch(port(db), sender, "UTC"))
    assert len(sender.sent) == 2
    assert outbox.counts(db) == {"pending": 0, "sending": 0, "sent": 2, "failed": 0}


def test_an_archive_unwritable_after_the_send_stops_delivery_and_records_it_later(tmp_path: Path) -> None:
    db = archive(tmp_path)
    queue(db, 3, [1001])

    class FillsTheDisk(SlowSender):
        async def send(self, chat_id: int, message: Message) -> int | None:
            # the archive cannot be written from now on
            port(db).write_now(lambda conn: conn.execute("PRAGMA query_only = ON"))
            return await super().send(chat_id, message)

    sender = FillsTheDisk()
    for _ in range(3):  # pass after pass while it stays unwritable: nothing more is sent
        with pytest.raises(Exception, match="readonly"):
            asyncio.run(dispatch(port(db), sender, "UTC"))
    assert len(sender.sent) == 1
    port(db).write_now(lambda conn: conn.execute("PRAGMA query_only = OFF"))
    asyncio.run(dispatch(port(db), SlowSender(), "UTC"))  # writable again: the accepted message is recorded first
    states = {r["id"]: r["state"] for r in db.query("SELECT id, state FROM outbox")}
    assert list(states.values()).count("sent") == 3
    first = db.execute("SELECT message_id FROM outbox ORDER BY id LIMIT 1").fetchone()[0]
    assert first == 1, "the first alert is marked with the message the channel accepted, not sent again"


def test_a_story_matching_two_topics_is_one_message_naming_both(tmp_path: Path) -> None:
    db = archive(tmp_path)
    (article_id,) = queue(db, 1, [1001], topic="cloud")
    article = db["articles"].get(article_id)
    outbox.record_matches(db, article, [outbox.Match("souveraineté", ["souverain"], [1001, 1002])], alert=True)
    sender = SlowSender()
    asyncio.run(dispatch(port(db), sender, "UTC"))
    by_chat = dict(sender.sent)
    assert len(sender.sent) == 2 and set(by_chat) == {1001, 1002}
    assert "#cloud #souveraineté" in by_chat[1001]
    assert "#cloud" not in by_chat[1002]
    assert outbox.counts(db)["sent"] == 3


def test_a_group_moved_to_a_supergroup_gets_its_alerts_there(tmp_path: Path, fake_bot: FakeBotAPI) -> None:
    db = archive(tmp_path)
    queue(db, 2, [-1001])
    fake_bot.migrated[-1001] = -100777

    async def go() -> None:
        config = TelegramConfig(api_url=f"{fake_bot.url}/bot", timeout="1s")  # type: ignore[arg-type]
        bot = build_application(config, TOKEN).bot
        await bot.initialize()
        try:
            await dispatch(port(db), TelegramSender(bot), "UTC")
        finally:
            await bot.shutdown()

    asyncio.run(go())
    assert [c.params["chat_id"] for c in fake_bot.sent()] == ["-100777", "-100777"]
    assert outbox.migrations(db) == {-1001: -100777}
    assert outbox.counts(db)["sent"] == 2
