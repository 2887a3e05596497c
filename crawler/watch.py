"""Watched pages: the part of a page that is watched, as lines, and what changed between two versions.

    page ─► watched_lines (select: or the whole body; whitespace and control characters normalised)
         ─► diff with the last version kept (lines matching ignore: left out of the comparison)
         ─► a change: a new version, and an article of the added lines (storage.watch)
"""

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from parsel import Selector
from scrapy.http import Response, TextResponse

from crawler.run import Run
from storage import watch as storage_watch

GONE = (404, 410)  # a page answering these is gone (storage.watch reports it after a few checks)
_SPACE = re.compile(r"\s+")
_BLOCKS = ("//script", "//style", "//noscript", "//template")


def normalised(line: str) -> str:
    """A line with control characters dropped and every run of whitespace made one space."""
    kept = "".join(c if unicodedata.category(c)[0] != "C" or c in "\t\n" else " " for c in line)
    return _SPACE.sub(" ", kept).strip()


_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset", "figcaption", "figure",
    "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
    "section", "table", "tbody", "thead", "tfoot", "tr", "ul"})


def watched_lines(html: str, select: str | None = None) -> list[str]:
    """The text of the watched part of a page (the nodes `select` matches, else its body), one line per
    block (paragraph, list item, table row: its cells joined by ` | `), normalised, empty lines left out."""
    page = Selector(text=html)
    page.xpath(" | ".join(_BLOCKS)).drop()
    nodes = page.css(select) if select else (page.xpath("//body") or page.xpath("/*"))
    parts: list[str] = []
    for node in nodes:
        _text_of(node.root, parts)
        parts.append("\n")
    return [line for raw in "".join(parts).split("\n") if (line := normalised(raw))]


def _text_of(element: Any, parts: list[str]) -> None:
    """Append an element's text to `parts`, a newline around each block, ` | ` between table cells."""
    tag = element.tag if isinstance(element.tag, str) else ""
    block = tag in _BLOCK_TAGS
    if block:
        parts.append("\n")
    elif tag in ("td", "th") and parts and not parts[-1].endswith("\n"):
        parts.append(" | ")
    if tag and element.text:
        parts.append(element.text)
    for child in element:
        _text_of(child, parts)
        if child.tail:
            parts.append(child.tail)
    if block:
        parts.append("\n")


def page_title(html: str) -> str:
    """The page's <title>, normalised ('' without one)."""
    return normalised(Selector(text=html).xpath("//title/text()").get() or "")


@dataclass(frozen=True)
class Change:
    """What changed between two versions of a watched page: the lines added and removed, in page order."""

    added: list[str]
    removed: list[str]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)


CHANGE_LINES = 10  # lines added, and lines removed, shown in a change's alert
CHANGE_LINE_CHARS = 200


def change_summary(added: list[str], removed: list[str]) -> list[str]:
    """A change as its alert shows it: the lines added (`+ `) then removed (`- `), at most CHANGE_LINES of
    each, each cut to CHANGE_LINE_CHARS, and how many more there were."""
    summary = []
    for mark, lines in (("+", added), ("-", removed)):
        summary += [f"{mark} {_cut(line)}" for line in lines[:CHANGE_LINES]]
        if len(lines) > CHANGE_LINES:
            summary.append(f"{mark} … {len(lines) - CHANGE_LINES} more lines")
    return summary


def _cut(line: str) -> str:
    return line if len(line) <= CHANGE_LINE_CHARS else line[:CHANGE_LINE_CHARS].rsplit(" ", 1)[0] + " …"


def _keyed(lines: Iterable[str], patterns: list[re.Pattern[str]]) -> tuple[list[str], list[str]]:
    """The lines left once every match of `patterns` is removed (lines left empty dropped), and the lines
    they came from: what two versions are compared on, and what is shown."""
    keys, kept = [], []
    for line in lines:
        key = line
        for pattern in patterns:
            key = pattern.sub("", key)
        if key := normalised(key):
            keys.append(key)
            kept.append(line)
    return keys, kept


def diff(old: list[str], new: list[str], ignore: Iterable[str] = ()) -> Change:
    """The lines added and removed from `old` to `new`, compared without what the `ignore` patterns match
    (churn: dates, counters, tokens); a line that differs only there is no change."""
    patterns = [re.compile(p) for p in ignore]
    (before, old_kept), (after, new_kept) = _keyed(old, patterns), _keyed(new, patterns)
    added: list[str] = []
    removed: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            removed.extend(old_kept[i1:i2])
        if tag in ("replace", "insert"):
            added.extend(new_kept[j1:j2])
    return Change(added, removed)


async def check(run: Run, response: Response) -> None:
    """One check of a watched page: a new version kept (and its change alerted) when its watched lines
    changed; a 404 or 410 counted towards its report as gone; an unchanged page (or a 304) leaves no trace."""
    source, archive = run.source, run.archive
    if response.status == 304:
        return
    if response.status in GONE:
        run.errors.append(f"HTTP {response.status} from {response.url}")
        if archive is not None and not run.dry_run:
            await archive.write(storage_watch.record_gone, source.name, source.url, response.status, source.chats)
        return
    if not isinstance(response, TextResponse):
        run.errors.append(f"{response.url}: not an HTML page")
        return
    lines = watched_lines(response.text, source.select)
    if not lines:
        run.errors.append(f"{response.url}: nothing to watch" + (f" (no node matches select: {source.select!r})"
                                                                 if source.select else ""))
        return
    run.seen += 1
    if archive is None or run.dry_run:
        return
    last = await archive.read(storage_watch.latest, source.name)
    change = diff(last.lines, lines, source.ignore) if last else Change([], [])
    if last is None or change:
        await archive.write(storage_watch.record_version, source.name, source.url, page_title(response.text), lines,
                            change.added, change.removed, source.chats, change_summary(change.added, change.removed))
        run.new += bool(change)
