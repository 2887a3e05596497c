"""The python-telegram-bot Application: built once, rate limited on the builder, started in our own loop."""

import logging

from telegram import BotCommand
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from alerts import commands, replies
from alerts.commands import BotState
from alerts.config import TelegramConfig

log = logging.getLogger("veille.bot")


def build_application(config: TelegramConfig, token: str, state: BotState | None = None) -> Application:
    """An Application for `token` on the configured Bot API, with Telegram's flood limits applied.

    With a `state`, the bot's commands are registered and answer from that state's archive.
    """
    application = (
        Application.builder()
        .token(token)
        .base_url(config.resolved_api_url())
        .rate_limiter(AIORateLimiter(max_retries=3))
        .connect_timeout(config.timeout.total_seconds())
        .read_timeout(config.timeout.total_seconds())
        .write_timeout(config.timeout.total_seconds())
        .pool_timeout(config.timeout.total_seconds())
        .build()
    )
    if state is not None:
        application.bot_data["veille"] = state
        register(application)
    return application


def register(application: Application) -> None:
    """The gate first (strangers, floods), then one handler per command, then hints for everything else."""
    application.add_handler(TypeHandler(object, commands.gate), group=-1)
    for name, handler in (("start", commands.start), ("help", commands.start), ("topics", commands.topics),
                          ("subscribe", commands.subscribe), ("unsubscribe", commands.unsubscribe),
                          ("latest", commands.latest), ("search", commands.search_command),
                          ("mute", commands.mute), ("unmute", commands.unmute), ("status", commands.status)):
        application.add_handler(CommandHandler(name, handler))
    application.add_handler(CallbackQueryHandler(commands.press))  # every press, whatever its data
    application.add_handler(MessageHandler(filters.COMMAND, commands.unknown))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, commands.text))
    application.add_error_handler(commands.error)


async def start_bot(state: BotState) -> Application | None:
    """Start answering commands inside the running loop; None without a token or when Telegram says no."""
    token = state.telegram.resolved_token()
    if not token:
        return None
    application = build_application(state.telegram, token, state)
    try:
        await application.initialize()
        await application.start()
        await application.updater.start_polling(  # type: ignore[union-attr]
            drop_pending_updates=False, error_callback=_polling_failed)
    except InvalidToken:
        log.error("Telegram rejected the bot token: the bot does not answer commands")
        await stop_bot(application)
        return None
    except TelegramError as exc:
        log.error("Telegram cannot be reached (%s): the bot does not answer commands", exc.message)
        await stop_bot(application)
        return None
    try:
        await _announce_commands(application)
    except TelegramError as exc:
        log.warning("could not set the bot's command menu: %s", exc.message)
    log.info("bot @%s answering commands", application.bot.username)
    return application


def _polling_failed(exc: TelegramError) -> None:
    """One line per failed poll (the updater retries by itself), through our logger that hides the token."""
    log.warning("polling Telegram for commands failed, retrying: %s", exc)


async def _announce_commands(application: Application) -> None:
    """The command menu Telegram shows, in French and, for English-speaking users, in English."""
    for lang in ("fr", "en"):
        menu = [BotCommand(name, en if lang == "en" else fr) for name, fr, en in replies.COMMANDS]
        await application.bot.set_my_commands(menu, language_code=None if lang == "fr" else "en")


async def stop_bot(application: Application | None) -> None:
    """Stop polling, then the handlers, then the HTTP client: the reverse of start_bot."""
    if application is None:
        return
    try:
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
    except (TelegramError, RuntimeError) as exc:
        log.warning("bot did not stop cleanly: %s", exc)
