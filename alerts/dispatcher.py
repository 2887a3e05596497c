"""Delivery: pending outbox rows to Telegram (or the console) and to Apprise URLs (email, Matrix, Slack...),
each marked sent as soon as it is accepted.

Each message's rows are claimed in the archive before it is sent (storage.outbox.claim): a row another
process holds is left to it, and nothing is sent whose claim could not be written (a full disk stops
delivery, it never floods a chat). One story goes to a chat in one message, naming every topic it matched.

Temporary failures (timeouts, network errors, 5xx, 429 past the rate limiter's retries) keep the row
pending with a growing delay (capped at five minutes, so that alerts follow soon after Telegram comes
back from an outage) and hold up that chat's later alerts, which are never sent before it; permanent
ones (chat not found, bot blocked or kicked) mark it failed with the reason, and the other chats go on.
"""

import asyncio
import logging
import sys
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, TextIO

import telegram
from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter, TelegramError

from alerts.config import DeliveryRules, Policy, masked
from alerts.digest import digest_heading, folded_heading, summary
from alerts.format import Message, alert_message
from storage import Archive, outbox
from storage.records import Address, QueuedAlert

log = logging.getLogger("veille.alerts")
MAX_BACKOFF = 300.0


class DeliveryError(Exception):
    """A message the channel did not accept; `permanent` when trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: float | None = None,
                 migrated_to: int | None = None) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.retry_after = retry_after
        self.migrated_to = migrated_to


class Sender(Protocol):
    """Where alerts go."""

    async def send(self, chat_id: Address, message: Message) -> int | None:
        """Deliver one message; return its id, if the channel gives one. Raise DeliveryError."""
        ...


@dataclass(frozen=True)
class Channels:
    """Telegram chat ids to the bot (or the console), Apprise URLs to Apprise. Without a bot (Telegram cannot be
    reached), the chat ids' alerts are held, pending as they are, and the other channels go on."""

    bot: Sender | None
    apprise: Sender | None = None

    def holds(self, chat_id: Address) -> bool:
        """Whether this recipient's alerts wait for a channel that is down (Telegram)."""
        return self.bot is None and isinstance(chat_id, int)

    async def send(self, chat_id: Address, message: Message) -> int | None:
        if isinstance(chat_id, int):
            if self.bot is None:
                raise DeliveryError("Telegram cannot be reached")
            return await self.bot.send(chat_id, message)
        if self.apprise is None:
            raise DeliveryError(f"no sender for {masked(chat_id)}", permanent=True)
        return await self.apprise.send(chat_id, message)


class ConsoleSender:
    """Alerts printed, for when no Telegram token is set: the hits in bold reverse on a terminal, between
    ** and ** elsewhere."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    async def send(self, chat_id: Address, message: Message) -> int | None:
        heading = f"── alert for chat {masked(chat_id)}"
        if self.stream.isatty():
            from rich.console import Console
            from rich.text import Text

            text = Text(message.plain)
            for start, end in message.hits:
                text.stylize("bold reverse", start, end)
            Console(file=self.stream, highlight=False).print(Text(heading, style="dim"), text, "", sep="\n",
                                                              soft_wrap=True)
            self.stream.flush()
        else:
            print(f"{heading}\n{message.marked()}\n", file=self.stream, flush=True)
        return None


class TelegramSender:
    """Alerts sent as HTML messages by a python-telegram-bot Bot (rate limited by its builder)."""

    def __init__(self, bot: telegram.Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: Address, message: Message) -> int | None:
        try:
            sent = await self.bot.send_message(
                chat_id, message.html, parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True))
        except RetryAfter as exc:
            raise DeliveryError(f"rate limited: {exc.message}", retry_after=_seconds(exc.retry_after)) from exc
        except InvalidToken:
            raise
        except ChatMigrated as exc:
            raise DeliveryError(self._reason(exc), migrated_to=exc.new_chat_id) from None
        except (Forbidden, BadRequest) as exc:
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


@dataclass(frozen=True)
class _Accepted:
    """A message the channel accepted whose rows could not be marked sent (the archive could not be written)."""

    row_ids: list[int]
    message_id: int | None
    delivery: str


# per archive: written before anything else is sent, so that the archive, once writable, says they went out
_unrecorded: weakref.WeakKeyDictionary[Archive, list[_Accepted]] = weakref.WeakKeyDictionary()


@dataclass
class _Pass:
    """The state of one delivery pass: alerts gathered for summaries, and sends counted per chat."""

    archive: Archive
    sender: Sender
    timezone: str
    now: datetime
    report: DispatchReport = field(default_factory=DispatchReport)
    digests: dict[tuple[Address, str], list[QueuedAlert]] = field(default_factory=dict)
    folded: dict[Address, list[QueuedAlert]] = field(default_factory=dict)
    sent_this_hour: dict[Address, int] = field(default_factory=dict)
    troubled: set[Address] = field(default_factory=set)
    moved: dict[int, int] = field(default_factory=dict)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)  # set: no new message is started

    @property
    def hour_ago(self) -> str:
        # compared as text with the stored UTC stamps, so it must be written in UTC too
        return (self.now.astimezone(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()

    async def send(self, chat_id: Address, message: Message, rows: list[QueuedAlert], delivery: str) -> bool:
        """Claim the rows of one message, send it, and mark them sent the moment it is accepted, or record
        why not. False if it was not sent (another process holds a row, or the channel said no)."""
        ids = [r.id for r in rows]
        if self.stopping.is_set() or not await self.archive.write(outbox.claim, ids):
            return False
        try:
            message_id = await self._send(chat_id, message)
        except DeliveryError as exc:
            await _record_failure(self.archive, chat_id, ids, max(r.attempts for r in rows), exc, self.report)
            if not exc.permanent:  # a chat in trouble waits for a later pass, not to hold the others up
                self.troubled.add(chat_id)
            return False
        except Exception:  # not sent (a rejected token): the rows go back to pending
            await self.archive.write(outbox.release, ids)
            raise
        # a cancelled send keeps its claim: it may have gone out, and is sent again once the lease ends
        try:
            await self.archive.write(outbox.mark_sent, ids, message_id, delivery)
        except Exception:
            _unrecorded.setdefault(self.archive, []).append(_Accepted(ids, message_id, delivery))
            raise
        self.report.sent += 1
        return True

    async def _send(self, chat_id: Address, message: Message) -> int | None:
        """Send to the chat, or to the supergroup Telegram moved it to (remembered in the archive)."""
        target = self.moved.get(chat_id, chat_id) if isinstance(chat_id, int) else chat_id
        try:
            return await self.sender.send(target, message)
        except DeliveryError as exc:
            if exc.migrated_to is None or exc.migrated_to == target or not isinstance(chat_id, int):
                raise
            await self.archive.write(outbox.record_migration, chat_id, exc.migrated_to)
            self.moved[chat_id] = exc.migrated_to
            log.warning("chat %d became the supergroup %d: alerts go there now; replace %d by %d in config.yaml",
                        chat_id, exc.migrated_to, chat_id, exc.migrated_to)
            return await self.sender.send(exc.migrated_to, message)

    async def alert(self, rows: list[QueuedAlert], max_per_hour: int | None) -> None:
        """Send one story to one chat on its own, naming every topic it matched, or fold it into the
        "N more" message past the chat's cap."""
        row, chat_id = rows[0], rows[0].chat_id
        if chat_id in self.troubled:
            return
        if chat_id not in self.sent_this_hour:
            self.sent_this_hour[chat_id] = await self.archive.read(outbox.count_sent_since, chat_id, self.hour_ago)
        if max_per_hour is not None and self.sent_this_hour[chat_id] >= max_per_hour:
            self.folded.setdefault(chat_id, []).extend(rows)
            return
        also_in = await self.archive.read(outbox.other_outlets, row.article_id, row.story_id, row.source)
        terms = list(dict.fromkeys(t for r in rows for t in r.terms))
        topics = list(dict.fromkeys(r.topic for r in rows))
        message = alert_message(row, terms, self.timezone, also_in, topics=topics)
        if await self.send(chat_id, message, rows, "alert"):
            self.sent_this_hour[chat_id] += 1

    async def _folded_lately(self, chat_id: Address) -> bool:
        """Whether this chat was sent an "N more" message in the last hour."""
        return bool(await self.archive.read(outbox.sent_since, chat_id, self.hour_ago, "folded"))

    async def summaries(self) -> None:
        """Send the digests that are due, then the "N more" messages (at most one per chat and hour)."""
        for (chat_id, _), rows in self.digests.items():
            stories = len({r.story_id for r in rows})
            for part in summary(rows, digest_heading(stories), self.timezone):
                if chat_id in self.troubled:
                    break
                await self.send(chat_id, part.message, [r for r in rows if r.id in part.row_ids], "digest")
        for chat_id, rows in self.folded.items():
            if chat_id in self.troubled or await self._folded_lately(chat_id):
                self.report.held += len(rows)
                continue
            stories = len({r.story_id for r in rows})
            for part in summary(rows, folded_heading(stories), self.timezone):
                if chat_id in self.troubled:
                    break
                await self.send(chat_id, part.message, [r for r in rows if r.id in part.row_ids], "folded")


async def dispatch(archive: Archive, sender: Sender, timezone: str, *,
                   rules: DeliveryRules | None = None, now: datetime | None = None,
                   stopping: asyncio.Event | None = None) -> DispatchReport:
    """Send every pending alert whose time has come, marking each one as soon as its fate is known.

    Alerts of a muted chat, in quiet hours, or waiting for their digest stay pending; alerts past a
    chat's hourly cap are folded into one message.
    """
    rules = rules or DeliveryRules()
    await _record_accepted(archive)
    await archive.write(outbox.release_orphans)
    state = _Pass(archive, sender, timezone, now or datetime.now(UTC), moved=await archive.read(outbox.migrations),
                  stopping=stopping or asyncio.Event())
    # a chat whose oldest alert waits for its retry is served in order: nothing of it overtakes that alert
    state.troubled |= await archive.read(outbox.deferred_chats)
    last_id = 0
    while rows := await archive.read(outbox.pending, after_id=last_id):
        last_id = rows[-1].id
        alone: dict[tuple[Address, int], tuple[list[QueuedAlert], int | None]] = {}  # one message per story and chat
        for row in rows:
            if row.chat_id in state.troubled:
                continue
            if isinstance(sender, Channels) and sender.holds(row.chat_id):
                state.report.held += 1  # left pending: sent as soon as Telegram is back
                continue
            policy = rules.policy(row.chat_id, row.topic)
            action = route(policy, row.queued_at, state.now, timezone)
            if action == "hold":
                state.report.held += 1
            elif action == "digest":
                state.digests.setdefault((row.chat_id, str(policy.digest)), []).append(row)
            else:
                alone.setdefault((row.chat_id, row.story_id), ([], policy.max_per_hour))[0].append(row)
        for story_rows, max_per_hour in alone.values():
            await state.alert(story_rows, max_per_hour)
    await state.summaries()
    return state.report


async def _record_accepted(archive: Archive) -> None:
    """Mark sent what the channel accepted while the archive could not be written; raises while it still
    cannot (then nothing else is sent)."""
    waiting = _unrecorded.get(archive, [])
    while waiting:
        accepted = waiting[0]
        await archive.write(outbox.mark_sent, accepted.row_ids, accepted.message_id, accepted.delivery)
        waiting.pop(0)


async def _record_failure(archive: Archive, chat_id: Address, ids: list[int], attempts: int,
                    exc: DeliveryError, report: DispatchReport) -> None:
    if exc.permanent:
        log.error("alerts %s to %s failed for good: %s", ids, masked(chat_id), exc)
        await archive.write(outbox.mark_failed, ids, str(exc))
        report.failed += 1
        return
    delay = exc.retry_after if exc.retry_after is not None else min(2.0 ** (attempts + 1), MAX_BACKOFF)
    log.warning("alerts %s to %s deferred %.0fs: %s", ids, masked(chat_id), delay, exc)
    not_before = (datetime.now(UTC) + timedelta(seconds=delay)).replace(microsecond=0).isoformat()
    await archive.write(outbox.mark_retry, ids, str(exc), not_before)
    report.deferred += 1


async def deliver(archive: Archive, sender: Sender, timezone: str, *, patience: float = 30.0,
                  rules: DeliveryRules | None = None, stopping: asyncio.Event | None = None) -> DispatchReport:
    """Dispatch what is due, then wait up to `patience` seconds in all for alerts deferred after a failure.

    Alerts held (mute, quiet hours, digest) are left for a later call: `veille run` calls this every
    few seconds. Returns what was done, summed over the passes.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    total = DispatchReport()
    while True:
        report = await dispatch(archive, sender, timezone, rules=rules, stopping=stopping)
        total.sent += report.sent
        total.failed += report.failed
        total.deferred = report.deferred
        wait = await archive.read(outbox.next_due_in)
        # due now yet nothing moved: what is left is held (mute, quiet hours, digest), not failing
        stuck = wait == 0.0 and not report.sent and not report.deferred
        if stuck or wait is None or loop.time() + wait > deadline or (stopping and stopping.is_set()):
            return total
        await asyncio.sleep(max(wait, 0.1))
