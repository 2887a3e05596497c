"""Alerts to email, Matrix (Tchap), Slack, Teams, ntfy, webhooks...: every address that is an Apprise URL.

Apprise is blocking, so each message is sent in a thread. Each channel gets what it takes: HTML where it
reads HTML (email, Matrix), the plain text elsewhere, cut to its size limit; the subject (or title) is the
message's first line: the article's title, or the digest's heading. Secrets in URLs come from the
environment (`${SMTP_PASSWORD}`, expanded when config.yaml is read) and are shown masked, as Apprise does.
"""

import asyncio
import logging
import re

import apprise

from alerts.config import masked
from alerts.dispatcher import DeliveryError
from alerts.format import Message, shorten
from storage.records import Address

HTML_CHANNELS = {"mailto", "matrix"}  # Apprise's scheme for each (mailtos, matrixs are their secure ones)
# what a retry cannot mend: the endpoint refused who we are or where we send (429 is a rate limit)
_REFUSED = re.compile(r"\b(40[0-4]|410|41[3-5]|422)\b|authenticat|not found|unauthori[sz]ed|forbidden", re.I)


class AppriseSender:
    """Alerts sent through Apprise, one message per call, in a worker thread."""

    async def send(self, url: Address, message: Message) -> int | None:
        plugin = apprise.Apprise.instantiate(str(url), suppress_exceptions=True)
        if plugin is None:
            raise DeliveryError(f"{masked(url)} is not an Apprise URL", permanent=True)
        await asyncio.to_thread(_notify, plugin, message)
        return None


def render(plugin: apprise.plugins.NotifyBase, message: Message) -> tuple[str, str, apprise.NotifyFormat]:
    """The title, body and its format for this channel: HTML for email and Matrix, else plain text; the
    title is the message's first line (an article's title, a digest's heading), each cut to the channel's
    limits (a channel without titles gets it in the body)."""
    title, _, rest = message.plain.partition("\n")
    title_limit, body_limit = plugin.title_maxlen, plugin.body_maxlen
    if str(plugin.protocol) in HTML_CHANNELS:
        return shorten(title, title_limit), message.html.replace("\n", "<br>\n"), apprise.NotifyFormat.HTML
    body = rest if title_limit else message.plain
    return shorten(title, title_limit), shorten(body, body_limit), apprise.NotifyFormat.TEXT


def _notify(plugin: apprise.plugins.NotifyBase, message: Message) -> None:
    """Send, or raise DeliveryError with what Apprise logged about the refusal (secrets masked)."""
    title, body, body_format = render(plugin, message)
    sender = apprise.Apprise()
    sender.add(plugin)
    with apprise.LogCapture(level=logging.WARNING) as logged:
        accepted = sender.notify(body=body, title=title, body_format=body_format)
    if accepted:
        return
    lines = [line.strip() for line in logged.getvalue().splitlines() if line.strip()]
    reason = " ".join(lines[-2:]) or "the channel refused the message"
    password = getattr(plugin, "password", None)  # kept in the outbox and shown: never a secret of the URL
    if password:
        reason = reason.replace(str(password), "***")
    raise DeliveryError(f"{plugin.service_name}: {reason}", permanent=bool(_REFUSED.search(reason)))
