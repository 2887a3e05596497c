"""The bot's commands: short handlers that read and write the archive through storage/ and answer in HTML."""

import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest
from telegram.ext import ApplicationHandlerStop, ContextTypes

from alerts import buttons, replies
from alerts.access import Refusals, TokenBucket, known_chats, manages_chat
from alerts.config import TelegramConfig, Topic
from alerts.format import local_time
from storage import Archive, SearchSyntaxError, chats, health, matches, outbox
from storage.search import search
from storage.units import format_duration, parse_duration

log = logging.getLogger("veille.bot")
PAGE = 5
LATEST_MAX = 20
MUTE_MAX = timedelta(days=30)
KEPT_SEARCHES = 20
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


@dataclass
class BotState:
    """What the handlers need: the config they read, the archive, and the bot's memory of this run."""

    telegram: TelegramConfig
    topics: Sequence[Topic]
    archive: Archive
    timezone: str = "Europe/Paris"
    bucket: TokenBucket = field(default_factory=TokenBucket)
    refusals: Refusals = field(default_factory=Refusals)

    def topic(self, name: str) -> Topic | None:
        """The configured topic of that name (case-insensitive)."""
        return next((t for t in self.topics if t.name.casefold() == name.casefold()), None)

    def config_topics(self, chat_id: int) -> set[str]:
        """The topics config.yaml sends to this chat."""
        return {t.name for t in self.topics if chat_id in t.chats}

    async def allowed(self, chat_id: int, user_id: int | None) -> bool:
        """Chats named in config, chats subscribed by an admin, and the admins themselves anywhere."""
        return (chat_id in known_chats(self.telegram, self.topics) or user_id in self.telegram.admins
                or chat_id in await self.archive.read(chats.subscribed_chats))


def _state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    state: BotState = context.bot_data["veille"]
    return state


def _lang(update: Update) -> str:
    return replies.language(update.effective_user.language_code if update.effective_user else None)


async def _reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    if update.effective_chat is not None:
        await update.get_bot().send_message(update.effective_chat.id, text, parse_mode=ParseMode.HTML,
                                            reply_markup=markup,
                                            link_preview_options=NO_PREVIEW)


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop updates from strangers (refused once) and from users flooding the bot (told once)."""
    state, chat, user = _state(context), update.effective_chat, update.effective_user
    if chat is None or not (update.message or update.callback_query):
        raise ApplicationHandlerStop
    user_id = user.id if user else None
    if not await state.allowed(chat.id, user_id):
        if state.refusals.first(chat.id):
            log.warning("refused chat %s (user %s): not in config; to send it alerts, add %s to a topic's chats",
                        chat.id, user_id, chat.id)
            await _reply(update, replies.say(_lang(update), "refused"))
        raise ApplicationHandlerStop
    if user_id is not None and not state.bucket.take(user_id):
        if state.bucket.warn(user_id):
            log.info("throttling user %s in chat %s", user_id, chat.id)
            await _reply(update, replies.say(_lang(update), "slow_down"))
        raise ApplicationHandlerStop


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """What the bot does and its commands."""
    await _reply(update, replies.help_text(_lang(update)))


async def _topics_view(state: BotState, chat_id: int, lang: str) -> tuple[str, InlineKeyboardMarkup | None]:
    from_config, subscribed = state.config_topics(chat_id), await state.archive.read(chats.subscriptions_of, chat_id)
    text = replies.topics_text(lang, state.topics, from_config, subscribed)
    followed = from_config | subscribed
    keys = []
    for topic in state.topics:
        on = topic.name in followed
        data = buttons.follow_data(topic.name, on=not on)
        if data is not None:  # a longer name is still followed with /subscribe
            keys.append([InlineKeyboardButton(f"{'✅' if on else '➕'} {topic.name}", callback_data=data)])
    return text, InlineKeyboardMarkup(keys) if keys else None


async def topics(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The topics, their description, whether this chat follows each, with buttons to change that."""
    assert update.effective_chat is not None
    await _reply(update, *await _topics_view(_state(context), update.effective_chat.id, _lang(update)))


async def _change(state: BotState, update: Update, name: str, follow: bool) -> str:
    """Subscribe or unsubscribe this chat; the answer to give."""
    chat, user, lang = update.effective_chat, update.effective_user, _lang(update)
    assert chat is not None
    topic = state.topic(name)
    if topic is None:
        return replies.say(lang, "unknown_topic", topic=name, topics=", ".join(t.name for t in state.topics))
    if chat.type != ChatType.PRIVATE and (user is None or user.id not in state.telegram.admins):
        return replies.say(lang, "group_admin_only")
    if follow:
        done = await state.archive.write(chats.subscribe, chat.id, topic.name)
        log.info("chat %s subscribed to %s", chat.id, topic.name)
        return replies.say(lang, "subscribed" if done else "already_subscribed", topic=topic.name)
    if topic.name in state.config_topics(chat.id):
        return replies.say(lang, "config_chat", topic=topic.name)
    done = await state.archive.write(chats.unsubscribe, chat.id, topic.name)
    log.info("chat %s unsubscribed from %s", chat.id, topic.name)
    return replies.say(lang, "unsubscribed" if done else "not_subscribed", topic=topic.name)


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/subscribe TOPIC: this chat follows the topic."""
    await _subscription_command(update, context, follow=True)


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unsubscribe TOPIC: this chat stops following the topic."""
    await _subscription_command(update, context, follow=False)


async def _subscription_command(update: Update, context: ContextTypes.DEFAULT_TYPE, *, follow: bool) -> None:
    state = _state(context)
    if not context.args:
        command = "subscribe" if follow else "unsubscribe"
        await _reply(update, replies.say(_lang(update), "usage_subscribe", command=command,
                                         topics=", ".join(t.name for t in state.topics)))
        return
    await _reply(update, await _change(state, update, " ".join(context.args), follow))


async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button under one of the bot's messages; data the bot never wrote is answered and changes nothing."""
    query, state = update.callback_query, _state(context)
    assert query is not None
    asked = buttons.parse(query.data, [t.name for t in state.topics])
    if isinstance(asked, buttons.Follow):
        await _follow(update, state, asked)
    elif isinstance(asked, buttons.More):
        await _more(update, context, asked)
    else:
        chat, user = update.effective_chat, update.effective_user
        log.info("ignored a button from user %s in chat %s: %r", user.id if user else None,
                 chat.id if chat else None, (query.data or "")[:80])
        await _answer(query, replies.say(_lang(update), "button_invalid"))


async def _answer(query: CallbackQuery, text: str | None = None) -> None:
    """Stop the button's spinner; a query Telegram forgot (too old) is not worth an error."""
    try:
        await query.answer(replies.html_to_plain(text)[:200] if text else None)
    except BadRequest as exc:
        log.info("could not answer a button: %s", exc.message)


async def _follow(update: Update, state: BotState, asked: buttons.Follow) -> None:
    """A topic button: follow or stop following, then redraw the list."""
    query, chat = update.callback_query, update.effective_chat
    assert query is not None and chat is not None
    await _answer(query, await _change(state, update, asked.topic, follow=asked.on))
    text, markup = await _topics_view(state, chat.id, _lang(update))
    if query.message is not None:
        try:
            await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
        except BadRequest as exc:
            if "not modified" not in exc.message:  # a button that changed nothing leaves the list as it is
                raise


async def latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/latest [TOPIC] [N]: the last N matched stories."""
    state, lang = _state(context), _lang(update)
    args, count, topic = list(context.args or []), 5, None
    numbers = [a for a in args if a.isdigit()]
    words = [a for a in args if not a.isdigit()]
    if len(numbers) > 1 or len(words) > 1 or (numbers and not 1 <= int(numbers[0]) <= LATEST_MAX):
        await _reply(update, replies.say(lang, "usage_latest", max=LATEST_MAX))
        return
    if numbers:
        count = int(numbers[0])
    if words:
        topic = state.topic(words[0])
        if topic is None:
            await _reply(update, replies.say(lang, "unknown_topic", topic=words[0],
                                             topics=", ".join(t.name for t in state.topics)))
            return
    rows = await state.archive.read(matches.latest, topic.name if topic else None, count)
    await _reply(update, replies.latest_text(lang, rows, state.timezone))


async def _search_page(state: BotState, lang: str, query: str, offset: int,
                 search_id: int) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of results, and a "more" button when there are more."""
    rows = (await state.archive.read(search, query, limit=offset + PAGE + 1))[offset:]
    data, more = buttons.more_data(search_id, offset + PAGE), None
    if len(rows) > PAGE and data is not None:
        more = InlineKeyboardMarkup([[InlineKeyboardButton(replies.say(lang, "more"), callback_data=data)]])
    return replies.search_text(lang, query, rows[:PAGE], offset, state.timezone), more


async def search_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/search QUERY: the archive's full-text search, a page at a time."""
    state, lang = _state(context), _lang(update)
    query = " ".join(context.args or []).strip()
    if not query:
        await _reply(update, replies.say(lang, "usage_search"))
        return
    assert context.chat_data is not None
    searches: dict[int, str] = context.chat_data.setdefault("searches", {})
    search_id = max(searches, default=0) + 1
    try:
        text, more = await _search_page(state, lang, query, 0, search_id)
    except SearchSyntaxError:
        await _reply(update, replies.say(lang, "search_syntax", suggestion=replies.plain_query(query)))
        return
    searches[search_id] = query
    for old in sorted(searches)[:-KEPT_SEARCHES]:
        del searches[old]
    await _reply(update, text, more)


async def _more(update: Update, context: ContextTypes.DEFAULT_TYPE, asked: buttons.More) -> None:
    """The "more" button under search results: the next page."""
    query = update.callback_query
    assert query is not None and context.chat_data is not None
    text = context.chat_data.get("searches", {}).get(asked.search_id)
    await _answer(query)
    if text is None:
        await _reply(update, replies.say(_lang(update), "search_expired"))
        return
    await _reply(update, *await _search_page(_state(context), _lang(update), text, asked.offset, asked.search_id))


async def _may_mute(update: Update, state: BotState) -> bool:
    """In a group, only its administrators and veille's admins hold or release its alerts."""
    if await manages_chat(update, state.telegram.admins):
        return True
    chat, user = update.effective_chat, update.effective_user
    log.info("refused to (un)mute chat %s for user %s: not an administrator", chat.id if chat else None,
             user.id if user else None)
    await _reply(update, replies.say(_lang(update), "mute_admin_only"))
    return False


async def mute(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/mute 2h: hold this chat's alerts until then."""
    state, lang, chat = _state(context), _lang(update), update.effective_chat
    assert chat is not None
    if not await _may_mute(update, state):
        return
    try:
        length = parse_duration(" ".join(context.args or []))
    except ValueError:
        length = timedelta(0)
    if not timedelta(0) < length <= MUTE_MAX:
        await _reply(update, replies.say(lang, "usage_mute", max=format_duration(MUTE_MAX)))
        return
    until = datetime.now(UTC) + length
    await state.archive.write(chats.mute, chat.id, until)
    log.info("chat %s muted for %s", chat.id, format_duration(length))
    await _reply(update, replies.say(lang, "muted", until=local_time(until.isoformat(), state.timezone)))


async def unmute(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unmute: let this chat's alerts flow again."""
    state = _state(context)
    assert update.effective_chat is not None
    if not await _may_mute(update, state):
        return
    await state.archive.write(chats.unmute, update.effective_chat.id)
    await _reply(update, replies.say(_lang(update), "unmuted"))


async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/status (admins): failing sources, outbox backlog, last crawl, version."""
    state, lang, user = _state(context), _lang(update), update.effective_user
    if user is None or user.id not in state.telegram.admins:
        await _reply(update, replies.say(lang, "admins_only"))
        return
    try:
        running = version("veille")
    except PackageNotFoundError:
        running = "?"
    sources, counts = await state.archive.read(health.all_sources), await state.archive.read(outbox.counts)
    await _reply(update, replies.status_text(lang, sources, counts, running, state.timezone))


async def unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any other command addressed to this bot: a hint."""
    message = update.message
    assert message is not None and message.text is not None
    command, _, target = message.text.split()[0].removeprefix("/").partition("@")
    if target and target.casefold() != (context.bot.username or "").casefold():
        return  # a command for another bot in the same group
    await _reply(update, replies.say(_lang(update), "unknown_command", command=command))


async def text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Free text in a private chat: a hint (in groups, people talk among themselves)."""
    if update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE:
        await _reply(update, replies.say(_lang(update), "hint"))


async def error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log what went wrong and tell the user, once, briefly."""
    # the traceback goes into the message itself, where the log filter redacts the token
    trace = "".join(traceback.format_exception(context.error)) if context.error else ""
    log.error("bot command failed: %s", trace)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await _reply(update, replies.say(_lang(update), "error"))
        except Exception as exc:  # the error may be that Telegram cannot be reached at all
            log.warning("could not report the error to chat %s: %s", update.effective_chat.id, exc)
