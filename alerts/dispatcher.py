"""Delivery: pending outbox rows to Telegram (or the console), each marked sent as soon as it is accepted.

Temporary failures (timeouts, network errors, 5xx, 429 past the rate limiter's retries) keep the row
pending with a growing delay (capped at five minutes, so that alerts follow soon after Telegram comes
back from an outage) and hold up that chat's later alerts, which are never sent before it; permanent
ones (chat not found, bot blocked or kicked) mark it failed with the reason, and the other chats go on.
"""

import asyncio
import json
import logging
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, TextIO

import sqlite_utils
import telegram
from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter, TelegramError

from alerts.config import DeliveryRules, Policy
from alerts.digest import digest_heading, folded_heading, summary
from alerts.format import Message, alert_message
from storage import outbox

log = logging.getLogger("veille.alerts")
MAX_BACKOFF = 300.0


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
            raise DeliveryError(self._reason(exc), permanent=True) from None
        except TelegramError as exc:  # TimedOut, NetworkError (5xx included)
            raise DeliveryError(self._reason(exc)) from None
        return sent.message_id

    def _reason(self, exc: TelegramError) -> str:
        """Why Telegram said no, as kept in the outbox (shown by `veille status` and the web UI).

        A proxy's or self-hosted server's error page may quote the request URL, and the token is in it.
        """
        reason = f"{type(exc).__name__}: {exc.message}"
        secret = self.bot.token.partition(":")[2]
        return reason.replace(self.bot.token, "***").replace(secret, "***") if secret else reason


def _seconds(value: object) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)  # type: ignore[arg-type]


@dataclass
class DispatchReport:
    """What one delivery pass did (counted in messages, except `held`, counted in alerts)."""

    sent: int = 0
    failed: int = 0
    deferred: int = 0
    held: int = 0


def route(policy: Policy, queued_at: str, now: datetime, timezone: str) -> str:
    """What to do with a pending alert now: 'send' it, put it in the 'digest' due now, or 'hold' it."""
    if policy.quiet_hours and policy.quiet_hours.ends_at(now, timezone):
        return "hold"
    if policy.digest is None:
        return "send"
    queued = datetime.fromisoformat(queued_at)
    return "digest" if now >= policy.digest.next_after(queued, timezone) else "hold"


@dataclass
class _Pass:
    """The state of one delivery pass: alerts gathered for summaries, and sends counted per chat."""

    db: sqlite_utils.Database
    sender: Sender
    timezone: str
    now: datetime
    report: DispatchReport = field(default_factory=DispatchReport)
    digests: dict[tuple[int, str], list[dict]] = field(default_factory=dict)
    folded: dict[int, list[dict]] = field(default_factory=dict)
    sent_this_hour: dict[int, int] = field(default_factory=dict)
    troubled: set[int] = field(default_factory=set)

    @property
    def hour_ago(self) -> str:
        # compared as text with the stored UTC stamps, so it must be written in UTC too
        return (self.now.astimezone(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()

    async def send(self, chat_id: int, message: Message, rows: list[dict], delivery: str) -> bool:
        """Send one message; mark its rows sent the moment it is accepted, or record why not."""
        ids = [r["id"] for r in rows]
        try:
            message_id = await self.sender.send(chat_id, message)
        except DeliveryError as exc:
            _record_failure(self.db, chat_id, ids, max(r["attempts"] for r in rows), exc, self.report)
            if not exc.permanent:  # a chat in trouble waits for a later pass, not to hold the others up
                self.troubled.add(chat_id)
            return False
        outbox.mark_sent(self.db, ids, message_id, delivery)
        self.report.sent += 1
        return True

    async def alert(self, row: dict, max_per_hour: int | None) -> None:
        """Send one alert on its own, or fold it into the "N more" message past the chat's cap."""
        chat_id = row["chat_id"]
        if chat_id not in self.sent_this_hour:
            self.sent_this_hour[chat_id] = outbox.count_sent_since(self.db, chat_id, self.hour_ago)
        if max_per_hour is not None and self.sent_this_hour[chat_id] >= max_per_hour:
            self.folded.setdefault(chat_id, []).append(row)
            return
        also_in = outbox.other_outlets(self.db, row["article_id"], row["story_id"], row["source"])
        message = alert_message(row, json.loads(row["terms"] or "[]"), self.timezone, also_in)
        if await self.send(chat_id, message, [row], "alert"):
            self.sent_this_hour[chat_id] += 1

    async def summaries(self) -> None:
        """Send the digests that are due, then the "N more" messages (at most one per chat and hour)."""
        for (chat_id, _), rows in self.digests.items():
            stories = len({r["story_id"] for r in rows})
            for part in summary(rows, digest_heading(stories), self.timezone):
                if chat_id in self.troubled:
                    break
                await self.send(chat_id, part.message, [r for r in rows if r["id"] in part.row_ids], "digest")
        for chat_id, rows in self.folded.items():
            if chat_id in self.troubled or outbox.sent_since(self.db, chat_id, self.hour_ago, "folded"):
                self.report.held += len(rows)
                continue
            stories = len({r["story_id"] for r in rows})
            for part in summary(rows, folded_heading(stories), self.timezone):
                if chat_id in self.troubled:
                    break
                await self.send(chat_id, part.message, [r for r in rows if r["id"] in part.row_ids], "folded")


async def dispatch(db: sqlite_utils.Database, sender: Sender, timezone: str, *,
                   rules: DeliveryRules | None = None, now: datetime | None = None) -> DispatchReport:
    """Send every pending alert whose time has come, marking each one as soon as its fate is known.

    Alerts of a muted chat, in quiet hours, or waiting for their digest stay pending; alerts past a
    chat's hourly cap are folded into one message.
    """
    rules = rules or DeliveryRules()
    state = _Pass(db, sender, timezone, now or datetime.now(UTC))
    # a chat whose oldest alert waits for its retry is served in order: nothing of it overtakes that alert
    state.troubled |= outbox.deferred_chats(db)
    last_id = 0
    while rows := outbox.pending(db, after_id=last_id):
        for row in rows:
            last_id = row["id"]
            if row["chat_id"] in state.troubled:
                continue
            policy = rules.policy(row["chat_id"], row["topic"])
            action = route(policy, row["queued_at"], state.now, timezone)
            if action == "hold":
                state.report.held += 1
            elif action == "digest":
                state.digests.setdefault((row["chat_id"], str(policy.digest)), []).append(row)
            else:
                await state.alert(row, policy.max_per_hour)
    await state.summaries()
    return state.report


def _record_failure(db: sqlite_utils.Database, chat_id: int, ids: list[int], attempts: int,
                    exc: DeliveryError, report: DispatchReport) -> None:
    if exc.permanent:
        log.error("alerts %s to chat %d failed for good: %s", ids, chat_id, exc)
        outbox.mark_failed(db, ids, str(exc))
        report.failed += 1
        return
    delay = exc.retry_after if exc.retry_after is not None else min(2.0 ** (attempts + 1), MAX_BACKOFF)
    log.warning("alerts %s to chat %d deferred %.0fs: %s", ids, chat_id, delay, exc)
    not_before = (datetime.now(UTC) + timedelta(seconds=delay)).replace(microsecond=0).isoformat()
    outbox.mark_retry(db, ids, str(exc), not_before)
    report.deferred += 1


async def deliver(db: sqlite_utils.Database, sender: Sender, timezone: str, *, patience: float = 30.0,
                  rules: DeliveryRules | None = None) -> DispatchReport:
    """Dispatch what is due, then wait up to `patience` seconds in all for alerts deferred after a failure.

    Alerts held (mute, quiet hours, digest) are left for a later call: `veille run` calls this every
    few seconds. Returns what was done, summed over the passes.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    total = DispatchReport()
    while True:
        report = await dispatch(db, sender, timezone, rules=rules)
        total.sent += report.sent
        total.failed += report.failed
        total.deferred = report.deferred
        wait = outbox.next_due_in(db)
        # due now yet nothing moved: what is left is held (mute, quiet hours, digest), not failing
        stuck = wait == 0.0 and not report.sent and not report.deferred
        if stuck or wait is None or loop.time() + wait > deadline:
            return total
        await asyncio.sleep(max(wait, 0.1))
