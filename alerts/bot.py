"""The python-telegram-bot Application: built once, rate limited on the builder."""

from telegram.ext import AIORateLimiter, Application

from alerts.config import TelegramConfig


def build_application(config: TelegramConfig, token: str) -> Application:
    """An Application for `token` on the configured Bot API, with Telegram's flood limits applied."""
    return (
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
