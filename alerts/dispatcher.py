"""Delivery: pending outbox rows to Telegram (or the console), each marked sent as soon as it is accepted.

Temporary failures (timeouts, network errors, 5xx, 429 past the rate limiter's retries) keep the row
pending with a growing delay; permanent ones (chat not found, bot blocked or kicked) mark it failed with
the reason, and the other chats go on.
"""

import asyncio
import json
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TextIO

import sqlite_utils
import telegram
from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter, TelegramError

from alerts.format import Message, alert_message
from storage import outbox

log = logging.getLogger("veille.alerts")
MAX_BACKOFF = 3600.0


class DeliveryError(Exception):
    """A message Telegram did not accept; `permanent` when trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.retry_after = retry_after


class Sender(Protocol):
    """Where alerts go."""

    async def send(self, chat_id: int, message: Message) -> int | None:
        """Deliver one message; return its id, if the channel gives one. Raise DeliveryError."""
        ...


class ConsoleSender:
    """Alerts printed in plain text, for when no Telegram token is set."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    async def send(self, chat_id: int, message: Message) -> int | None:
        print(f"── alert for chat {chat_id}\n{message.plain}\n", file=self.stream, flush=True)
        return None


class TelegramSender:
    """Alerts sent as HTML messages by a python-telegram-bot Bot (rate limited by its builder)."""

    def __init__(self, bot: telegram.Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: int, message: Message) -> int | None:
        try:
            sent = await self.bot.send_message(
                chat_id, message.html, parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True))
        except RetryAfter as exc:
            raise DeliveryError(f"rate limited: {exc.message}", retry_after=_seconds(exc.retry_after)) from exc
        except InvalidToken:
            raise
        except (Forbidden, BadRequest, ChatMigrated) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc.message}", permanent=True) from exc
        except TelegramError as exc:  # TimedOut, NetworkError (5xx included)
            raise DeliveryError(f"{type(exc).__name__}: {exc.message}") from exc
        return sent.message_id


def _seconds(value: object) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)  # type: ignore[arg-type]


@dataclass
class DispatchReport:
    """What one delivery pass did."""

    sent: int = 0
    failed: int = 0
    deferred: int = 0


async def dispatch(db: sqlite_utils.Database, sender: Sender, timezone: str) -> DispatchReport:
    """Send every pending alert whose time has come, marking each one as soon as its fate is known."""
    report = DispatchReport()
    last_id = 0
    while rows := outbox.pending(db, after_id=last_id):
        for row in rows:
            last_id = row["id"]
            message = alert_message(row, json.loads(row["terms"] or "[]"), timezone)
            try:
                message_id = await sender.send(row["chat_id"], message)
            except DeliveryError as exc:
                _record_failure(db, row, exc, report)
                continue
            outbox.mark_sent(db, row["id"], message_id)
            report.sent += 1
    return report


def _record_failure(db: sqlite_utils.Database, row: dict, exc: DeliveryError, report: DispatchReport) -> None:
    if exc.permanent:
        log.error("alert %d to chat %d failed for good: %s", row["id"], row["chat_id"], exc)
        outbox.mark_failed(db, row["id"], str(exc))
        report.failed += 1
        return
    delay = exc.retry_after if exc.retry_after is not None else min(2.0 ** (row["attempts"] + 1), MAX_BACKOFF)
    log.warning("alert %d to chat %d deferred %.0fs: %s", row["id"], row["chat_id"], delay, exc)
    not_before = (datetime.now(UTC) + timedelta(seconds=delay)).replace(microsecond=0).isoformat()
    outbox.mark_retry(db, row["id"], str(exc), not_before)
    report.deferred += 1


async def deliver(db: sqlite_utils.Database, sender: Sender, timezone: str, *,
                  patience: float = 30.0) -> DispatchReport:
    """Dispatch until nothing is pending, waiting up to `patience` seconds in all for deferred alerts."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    total = DispatchReport()
    while True:
        report = await dispatch(db, sender, timezone)
        total.sent += report.sent
        total.failed += report.failed
        total.deferred = report.deferred
        wait = outbox.next_due_in(db)
        if wait is None or loop.time() + wait > deadline:
            return total
        await asyncio.sleep(max(wait, 0.1))
