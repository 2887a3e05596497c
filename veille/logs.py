"""Logging for the whole process: our lines at INFO, third parties quiet, and the token never shown.

VEILLE_LOG_LEVEL (DEBUG, INFO, WARNING, ERROR) changes the level; at DEBUG third parties speak too,
except httpx and httpcore, which would print every Bot API URL, and the token is in that URL.
The token is taken out of every finished line, tracebacks included, in each form it can take: whole,
its secret part (after the colon), URL-quoted. Uncaught exceptions and warnings go through logging too.
"""

import json
import logging
import os
import sys
import threading
from types import TracebackType
from urllib.parse import quote

QUIET = {"httpx": logging.WARNING, "httpcore": logging.WARNING, "telegram": logging.WARNING,
         "apscheduler": logging.WARNING, "scrapy": logging.WARNING, "twisted": logging.ERROR,
         "trafilatura": logging.ERROR, "htmldate": logging.ERROR, "courlan": logging.ERROR,
         "asyncio": logging.WARNING,
         # these report a source's failure, which veille.crawl reports once, in one line
         "scrapy.downloadermiddlewares.retry": logging.CRITICAL,
         "scrapy.downloadermiddlewares.robotstxt": logging.CRITICAL,
         "scrapy.core.scraper": logging.CRITICAL}
# quiet at every level: they log each request's URL, and a Bot API URL holds the token
ALWAYS_QUIET = {"httpx": logging.WARNING, "httpcore": logging.WARNING}
MASK = "***"

_TOKENS: dict[str, str] = {}


def secrets() -> list[str]:
    """Every form of the known tokens (environment and config) that must never be shown, longest first."""
    forms: set[str] = set()
    for token in {os.environ.get("TELEGRAM_BOT_TOKEN", "").strip(), _TOKENS.get("token", "")}:
        if not token:
            continue
        forms |= {token, quote(token, safe=""), quote(token)}
        secret = token.partition(":")[2]
        if len(secret) >= 8:  # the part that is a secret; the bot's id before the colon is public
            forms |= {secret, quote(secret, safe="")}
    return sorted(forms, key=len, reverse=True)


def redact(text: str) -> str:
    """`text` with every form of the token replaced by ***."""
    for secret in secrets():
        text = text.replace(secret, MASK)
    return text


class RedactToken(logging.Filter):
    """Replace the Telegram token in a record's message, for handlers that format it themselves."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class Redacting(logging.Formatter):
    """Another formatter's finished line (traceback included) with the token taken out."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
                 "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """An exception nobody caught, logged (so redacted) instead of printed raw by Python."""
    logging.getLogger("veille").critical("uncaught error", exc_info=(kind, exc, tb))


def setup(level: str = "INFO", fmt: str = "text", token: str | None = None) -> None:
    """Configure the root logger on stderr; `token` is redacted from every line."""
    if token:
        _TOKENS["token"] = token
    level = (os.environ.get("VEILLE_LOG_LEVEL") or level).upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactToken())
    inner = JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(Redacting(inner))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet = ALWAYS_QUIET if level == "DEBUG" else QUIET
    for name in QUIET:
        logging.getLogger(name).setLevel(quiet.get(name, logging.NOTSET))
    logging.captureWarnings(True)
    sys.excepthook = _uncaught
    threading.excepthook = lambda args: _uncaught(args.exc_type, args.exc_value or args.exc_type(),
                                                  args.exc_traceback)
