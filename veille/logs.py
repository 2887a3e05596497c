"""Logging for the whole process: our lines at INFO, third parties quiet, and the token never shown."""

import json
import logging
import os
import sys

QUIET = {"httpx": logging.WARNING, "httpcore": logging.WARNING, "telegram": logging.WARNING,
         "apscheduler": logging.WARNING, "scrapy": logging.WARNING, "twisted": logging.ERROR,
         "trafilatura": logging.ERROR, "htmldate": logging.ERROR, "courlan": logging.ERROR,
         "asyncio": logging.WARNING,
         # these report a source's failure, which veille.crawl reports once, in one line
         "scrapy.downloadermiddlewares.retry": logging.CRITICAL,
         "scrapy.downloadermiddlewares.robotstxt": logging.CRITICAL,
         "scrapy.core.scraper": logging.CRITICAL}


class RedactToken(logging.Filter):
    """Replace the Telegram token, wherever it appears in a record, with `***`."""

    def filter(self, record: logging.LogRecord) -> bool:
        token = os.environ.get("TELEGRAM_BOT_TOKEN") or _TOKENS.get("token")
        if token:
            message = record.getMessage()
            if token in message:
                record.msg, record.args = message.replace(token, "***"), None
        return True


_TOKENS: dict[str, str] = {}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
                 "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup(level: str = "INFO", fmt: str = "text", token: str | None = None) -> None:
    """Configure the root logger on stderr; `token` is redacted from every line."""
    if token:
        _TOKENS["token"] = token
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactToken())
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(quiet)
