"""Summary messages: a digest of the stories since the last one, and the "N more" past a chat's hourly cap.

Each message lists one line per alert and stays under Telegram's limit: a long list is split into several
messages, each carrying the ids of the outbox rows it covers so that each part is marked sent on its own.
"""

import html
from dataclasses import dataclass

from alerts.format import NAME_CHARS, TELEGRAM_LIMIT, TITLE_CHARS, Message, local_time, shorten, telegram_length
from storage.records import QueuedAlert


@dataclass(frozen=True)
class Part:
    """One summary message and the outbox rows it delivers."""

    message: Message
    row_ids: list[int]


def _line(alert: QueuedAlert, timezone: str) -> tuple[str, str]:
    title = shorten(alert.title or alert.url, TITLE_CHARS)
    meta = " · ".join(p for p in (shorten(alert.source, NAME_CHARS), local_time(alert.published, timezone),
                                  f"#{shorten(alert.topic, NAME_CHARS)}") if p)
    url = html.escape(alert.url, quote=True)
    return (f'• <a href="{url}">{html.escape(title)}</a> — {html.escape(meta)}',
            f"• {title} — {meta}\n  {alert.url}")


def summary(rows: list[QueuedAlert], heading: str, timezone: str,
            limit: int = TELEGRAM_LIMIT) -> list[Part]:
    """`heading` then one line per row (one per story: a story seen by several topics is listed once)."""
    parts: list[Part] = []
    html_lines: list[str] = []
    plain_lines: list[str] = []
    ids: list[int] = []
    seen: set[int] = set()

    def render(lines: list[str]) -> str:
        count = f" ({len(parts) + 1})" if parts else ""
        return f"<b>{html.escape(heading)}{count}</b>\n" + "\n".join(lines)

    def flush() -> None:
        if ids:
            count = f" ({len(parts) + 1})" if parts else ""
            parts.append(Part(Message(html=render(html_lines), plain=f"{heading}{count}\n" + "\n".join(plain_lines)),
                              list(ids)))
        html_lines.clear()
        plain_lines.clear()
        ids.clear()

    for row in rows:
        if row.story_id in seen:  # listed already: delivered by the same message
            ids.append(row.id)
            continue
        seen.add(row.story_id)
        html_line, plain_line = _line(row, timezone)
        if telegram_length(html_line) > limit - 200:  # a huge URL: keep the title, drop the link
            html_line = "• " + html.escape(shorten(row.title or "?", TITLE_CHARS))
        if html_lines and telegram_length(render([*html_lines, html_line])) > limit:
            flush()
        html_lines.append(html_line)
        plain_lines.append(plain_line)
        ids.append(row.id)
    flush()
    return parts


def digest_heading(count: int) -> str:
    """The first line of a digest."""
    return f"Résumé : {count} article{'s' if count > 1 else ''}"


def folded_heading(count: int) -> str:
    """The first line of the message that folds the alerts past a chat's hourly cap."""
    return f"+ {count} autre{'s' if count > 1 else ''} alerte{'s' if count > 1 else ''} cette heure-ci"
