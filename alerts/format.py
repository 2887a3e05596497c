"""Alert messages: Telegram HTML with everything escaped, and the same message in plain text."""

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from storage.fields import printable
from storage.records import QueuedAlert
from storage.text import fold, stem, words

TELEGRAM_LIMIT = 4096
SNIPPET_CHARS = 300
TITLE_CHARS = 300
NAME_CHARS = 100  # a source or topic name, in a message
OUTLETS_SHOWN = 10
_SENTENCE = re.compile(r"(?<=[.!?…])\s+")
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Message:
    """One alert, ready for Telegram (html) or the console (plain, with `hits`: the spans of the matched
    words in it, for a terminal to highlight)."""

    html: str
    plain: str
    hits: tuple[tuple[int, int], ...] = ()

    def marked(self, start: str = "**", end: str = "**") -> str:
        """The plain text with each run of hits between `start` and `end`, for output without styles."""
        out, last = [], 0
        for a, b in self.hits:
            out += [self.plain[last:a], start, self.plain[a:b], end]
            last = b
        return "".join([*out, self.plain[last:]])


def telegram_length(html_text: str) -> int:
    """A message's length as Telegram counts it, in UTF-16 code units (an emoji counts 2), taken over the
    HTML as sent: never less than the text once tags and entities are read, which Telegram holds to 4096."""
    return len(html_text.encode("utf-16-le")) // 2


DAY_TIME, DAY_TIME_ZONE, ISO_DAY = "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M %Z", "%Y-%m-%d"


def local_time(stamp: str | None, timezone: str, fmt: str = DAY_TIME) -> str:
    """An ISO timestamp as `20/11/2026 10:05` (or `fmt`: DAY_TIME_ZONE adds `CET`, or the offset where a
    zone has no abbreviation) in the given time zone, or '' when unknown."""
    if not stamp:
        return ""
    try:
        when = datetime.fromisoformat(stamp)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.astimezone(ZoneInfo(timezone)).strftime(fmt)
    except ValueError:  # not an ISO date: shown as stored, shortened
        return shorten(stamp, NAME_CHARS)
    except OverflowError:  # a date at the very end (or start) of the calendar, past it in this zone
        return stamp[:10]


def snippet(text: str, terms: list[str], title: str = "") -> tuple[str, list[tuple[int, int]]]:
    """The first sentence where a hit term occurs, shortened, and the spans of the hit words in it; the
    title, which many texts begin with, is shown anyway and never taken for that sentence."""
    wanted = {stem(w) for term in terms for w in words(term.rstrip("*"))}
    # a line is a paragraph (or a heading): a sentence never runs on from one into the next
    sentences = [s for line in text.splitlines() for s in _SENTENCE.split(" ".join(line.split()))
                 if s and s != " ".join(title.split())]
    chosen = next((s for s in sentences if any(stem(fold(w)) in wanted for w in _WORD.findall(s))),
                  sentences[0] if sentences else "")
    chosen = shorten(chosen, SNIPPET_CHARS)
    spans = [(m.start(), m.end()) for m in _WORD.finditer(chosen) if stem(fold(m.group())) in wanted]
    return chosen, spans


def shorten(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _bold(text: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for start, end in spans:
        out.append(html.escape(text[last:start]))
        out.append(f"<b>{html.escape(text[start:end])}</b>")
        last = end
    out.append(html.escape(text[last:]))
    return "".join(out)


def outlets(names: list[str], shown: int = OUTLETS_SHOWN) -> str:
    """`Aussi dans : A, B et 3 autres`, or '' when no other outlet carried it."""
    if not names:
        return ""
    more = len(names) - shown
    return f"Aussi dans : {', '.join(names[:shown])}" + (f" et {more} autres" if more > 0 else "")


def alert_message(alert: QueuedAlert, terms: list[str], timezone: str,
                  also_in: list[str] | None = None, topics: list[str] | None = None) -> Message:
    """The alert for one queued story (its title, link, source, time, text and topic), naming `topics`
    when the story matched several for this chat.

    Every part is bounded, and the parts least needed go first when the whole would pass Telegram's limit;
    none holds a control character, whatever an older archive kept.
    """
    url, source, full_title = printable(alert.url), printable(alert.source), printable(alert.title)
    if is_change(url):
        return _change_message(alert, terms, url, source, full_title, timezone, topics)
    title = shorten(full_title or url, TITLE_CHARS)
    when = local_time(alert.published, timezone)
    meta = " · ".join(p for p in (shorten(source, NAME_CHARS), when) if p)
    tags = " ".join(f"#{shorten(printable(t), NAME_CHARS)}" for t in (topics or [alert.topic])[:OUTLETS_SHOWN])
    text, spans = snippet(printable(alert.text), terms, full_title)
    others = outlets(also_in or [])
    link = f'<a href="{html.escape(url, quote=True)}">{html.escape(title)}</a>'
    if telegram_length(link) > TELEGRAM_LIMIT // 2:  # a huge URL: the title stays, unlinked
        link = html.escape(title)
    head = f"<b>{link}</b>\n{html.escape(meta)}\n{html.escape(tags)}"  # bounded: always fits
    parts = [head, _bold(text, spans) if text else "", html.escape(others)]
    while telegram_length("\n\n".join(p for p in parts if p)) > TELEGRAM_LIMIT and len(parts) > 1:
        parts.pop()
    html_text = "\n\n".join(p for p in parts if p)
    # the console's layout: title, the sentence that matched (its hits at these offsets), source and time, link
    plain = "\n".join(p for p in (title, text, meta, url, tags, others) if p)
    hits = tuple((len(title) + 1 + a, len(title) + 1 + b) for a, b in _runs(text, spans))
    return Message(html=html_text, plain=plain, hits=hits)


def _runs(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans with those apart only by spaces joined: `cloud souverain` is one hit, not two."""
    runs: list[tuple[int, int]] = []
    for start, end in spans:
        if runs and not text[runs[-1][1]:start].strip():
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    return runs


CHANGE_LINES = 10  # lines of a watched page's change shown in its alert
CHANGE_LINE_CHARS = 200


def is_change(url: str) -> bool:
    """Whether an alert is a watched page's change or disappearance (storage.watch gives them these URLs)."""
    return bool(re.search(r"#(version|gone)-[^#]*$", url))


def _change_message(alert: QueuedAlert, terms: list[str], url: str, source: str, title: str, timezone: str,
                    topics: list[str] | None) -> Message:
    """A watched page's change: its title, linked to the page, then its diff, bounded (the watch's own match
    carries it as its terms, see storage.watch; a topic's match has only the added lines, the article's text)."""
    page = url.split("#", 1)[0]
    lines = [line for line in printable(alert.text).splitlines() if line.strip()]
    diff = [t for t in terms if t[:2] in ("+ ", "- ")] or [f"+ {shorten(line, CHANGE_LINE_CHARS)}"
                                                           for line in lines[:CHANGE_LINES]]
    added = shorten(" ".join(lines), SNIPPET_CHARS) if "#gone-" in url else "\n".join(diff)
    meta = " · ".join(p for p in (shorten(source, NAME_CHARS), local_time(alert.published, timezone)) if p)
    tags = " ".join(f"#{shorten(printable(t), NAME_CHARS)}" for t in (topics or [alert.topic])[:OUTLETS_SHOWN])
    title = shorten(title or page, TITLE_CHARS)
    link = f'<a href="{html.escape(page, quote=True)}">{html.escape(title)}</a>'
    if telegram_length(link) > TELEGRAM_LIMIT // 2:
        link = html.escape(title)
    html_text = "\n\n".join(p for p in (f"<b>{link}</b>\n{html.escape(meta)}\n{html.escape(tags)}",
                                         f"<pre>{html.escape(added)}</pre>" if added else "") if p)
    plain = "\n".join(p for p in (title, added, meta, page, tags) if p)
    return Message(html=html_text, plain=plain)
