"""The desk's pages and the bulletin as HTML, from the Jinja templates in veille/templates/desk.

Pure formatting: each function takes what storage read and returns a page. The desk (veille.serve_desk) and
`veille bulletin` render the bulletin from the same template, so the file written is the page printed.
"""

import functools
from itertools import groupby
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from alerts.format import DAY_TIME, local_time
from storage.search import MARK_END, MARK_START

UNTAGGED = "Starred"  # the bulletin's group of articles starred without a tag
DAY = "%d/%m/%Y"


def marked(snippet: str | None) -> Markup:
    """A search snippet as HTML: its text escaped, the hits (between storage.search's marks) in <mark>."""
    out, rest = [], snippet or ""
    while MARK_START in rest and MARK_END in rest.split(MARK_START, 1)[1]:
        before, after = rest.split(MARK_START, 1)
        hit, rest = after.split(MARK_END, 1)
        out.append(escape(before) + Markup("<mark>") + escape(hit) + Markup("</mark>"))
    return Markup("").join([*out, escape(rest)])


def shown_time(stamp: str | None, timezone: str) -> str:
    """A stored time as `04/03/2025 10:00` in the time zone; a bare date (a `since`) as `04/03/2025`."""
    if stamp and len(stamp) == 10:
        return local_time(stamp, "UTC", DAY)
    return local_time(stamp, timezone, DAY_TIME)


@functools.cache
def environment() -> Environment:
    """The templates, HTML escaped, with `marked` and `local` (a stamp in a time zone) as filters."""
    env = Environment(loader=PackageLoader("veille", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["marked"] = marked
    env.filters["local"] = shown_time
    return env


def render(template: str, **context: Any) -> str:
    """One of the desk's templates (`search.html`, `article.html`, `bulletin.html`) filled with `context`."""
    return environment().get_template(f"desk/{template}").render(**context)


def grouped(articles: list[dict[str, Any]], by: str = "tag") -> list[tuple[str, list[dict[str, Any]]]]:
    """The bulletin's articles under headings: their first tag (`by="tag"`, UNTAGGED when starred only) or their
    first topic (`by="topic"`), each article once, headings in alphabetical order, untagged last."""

    def heading(article: dict[str, Any]) -> tuple[bool, str]:
        names = sorted(article["tags" if by == "tag" else "topics"])
        return (not names, names[0] if names else UNTAGGED if by == "tag" else "Other")

    ordered = sorted(articles, key=heading)  # stable: newest first within a heading
    return [(name, list(group)) for (_, name), group in groupby(ordered, key=heading)]


def bulletin_html(articles: list[dict[str, Any]], *, since: str, tag: str | None, by: str, timezone: str,
                  title: str = "Bulletin de veille") -> str:
    """The bulletin: a standalone HTML page (styles inline) to print or paste into an email."""
    return render("bulletin.html", groups=grouped(articles, by), since=since, tag=tag, timezone=timezone,
                  title=title, count=len(articles))
