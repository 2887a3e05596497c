"""The analysts' desk, a Datasette plugin of `veille serve`: search, read, star/tag/note, and the bulletin.

    /                              search in the topics' language, one result per story, facets, two sorts
    /desk/article/ID               an article's text, original link, the story's other copies, its topics
    /desk/article/ID/curate        POST (with Datasette's CSRF token): star, unstar, tag, untag, note
    /desk/bulletin?since=7d&tag=X  what was starred or tagged in the period, as clean HTML (`veille bulletin`)

Registered by `veille serve` alone, configured by the metadata's `plugins: {veille-desk: {database, timezone}}`;
`CONFIG_FILE`, set by `veille serve`, is the config file whose topics say in the reading view why each matched,
as `veille topics explain` does (not in the metadata, which analysts can read).
Every read and write goes through Datasette's own database object, off the loop, running storage's functions
(storage.curation, storage.search); the only writes are to the curation tables. Pages answer only an actor
Datasette lets view the archive, so an auth plugin's `allow` blocks guard the desk as they guard the tables.
"""

import asyncio
import calendar
import functools
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from datasette import hookimpl
from datasette.utils.asgi import BadRequest, Forbidden, NotFound, Request, Response

from storage import Archive, boilerplate, curation
from storage.errors import ArchiveBusyError, SearchSyntaxError
from storage.search import search
from veille import desk_pages
from veille.archive_output import when

NAME = "veille-desk"
LIMIT = 50
FILTERS = ("source", "topic", "lang", "since", "until")
CSRF_COOKIE = "ds_csrftoken"  # Datasette's
CONFIG_FILE: Path | None = None
ACTIONS = ("star", "unstar", "tag", "untag", "note")


def _config(datasette: Any) -> dict[str, Any]:
    return datasette.plugin_config(NAME) or {}


async def _archive(datasette: Any, request: Request) -> Any:
    """The archive's Datasette database, once the actor may view it (Forbidden otherwise)."""
    name = _config(datasette)["database"]
    for action, resource in (("view-instance", None), ("view-database", name)):
        if not await datasette.permission_allowed(request.actor, action, resource, default=True):
            raise Forbidden(action)
    return datasette.get_database(name)


def _who(request: Request) -> str:
    """Who curates: the Datasette actor's id behind authentication, else "local"."""
    return str((request.actor or {}).get("id") or "local")


def _page(datasette: Any, template: str, status: int = 200, **context: Any) -> Response:
    context.update(database=_config(datasette)["database"], timezone=_config(datasette).get("timezone", "UTC"))
    return Response.html(desk_pages.render(template, **context), status=status)


async def desk(request: Request, datasette: Any) -> Response:
    """The search page: results one per story (the newest stories without a query), with facets that filter."""
    db = await _archive(datasette, request)
    q = request.args.get("q", "").strip()
    sort = "relevance" if request.args.get("sort") == "relevance" else "date"
    filters = {key: request.args.get(key) or None for key in FILTERS}
    results: list[dict[str, Any]] = []
    facets: dict[str, list[tuple[str, int]]] = {}
    error = None
    try:
        # a date (2025-03-01) or a time back from now (7d), as in the CLI
        asked = {**filters, **{key: when(value) for key in ("since", "until") if (value := filters[key])}}
        if q:
            results = await db.execute_fn(curation.on(search, q, limit=LIMIT, sort=sort, **asked))
        else:  # what came in: the newest stories
            results = await db.execute_fn(curation.on(curation.newest, LIMIT, **asked))
        facets = await db.execute_fn(curation.on(curation.facets, q, **asked))
    except (SearchSyntaxError, ValueError) as exc:
        error = str(exc)
    if results:
        topics = await db.execute_fn(curation.on(curation.topics_of, [r["id"] for r in results]))
        results = [{**r, "topics": topics[r["id"]]} for r in results]

    def link(**changes: str | None) -> str:
        args = {"q": q, "sort": sort, **filters, **changes}
        return "/?" + urlencode({k: v for k, v in args.items() if v})

    return _page(datasette, "search.html", 400 if error else 200, q=q, sort=sort, filters=filters,
                 results=results, facets=facets, months=_months(facets.get("month", [])), error=error, link=link,
                 limit=LIMIT)


def _months(counts: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """The date histogram: each month's stories, its bar's share of the busiest month, and its first and last day."""
    most = max((n for _, n in counts), default=1)
    shown = []
    for month, n in counts:
        if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):  # a date stored as the source wrote it is left out
            days = calendar.monthrange(int(month[:4]), int(month[5:]))[1]
            shown.append({"month": month, "n": n, "share": round(100 * n / most), "since": f"{month}-01",
                          "until": f"{month}-{days:02d}"})
    return shown


@functools.cache
def _learnt(path: str) -> Archive:
    """The archive read-only, for the boilerplate it learnt (a table analysts' SQL may not read)."""
    return Archive.open(path, readonly=True, readers=1)


@functools.lru_cache(maxsize=4)
def _rules(path: str, stamp: float) -> dict[str, Any]:
    """The config file's topics as compiled rules, by name (read again when the file changes)."""
    from alerts.matcher import Rule
    from veille.config import load

    return {topic.name: Rule.compile(topic) for topic in load(Path(path)).topics}


def _why(path: Path | None, found: dict[str, Any]) -> dict[str, list[str]]:
    """For each topic the article matched that config still has, the lines of `veille topics explain`."""
    from alerts.explain import explain
    from veille.config import ConfigError

    if not path:
        return {}
    try:
        rules = _rules(str(path), path.stat().st_mtime)
    except (OSError, ConfigError):  # the desk still reads; the service reports a bad config
        return {}
    return {m["topic"]: explain(rules[m["topic"]], found)[1] for m in found["matches"] if m["topic"] in rules}


async def article(request: Request, datasette: Any) -> Response:
    """The reading view of one article, with its curation forms and why each topic matched it."""
    db = await _archive(datasette, request)
    found = await db.execute_fn(curation.on(curation.article, int(request.url_vars["id"])))
    if found is None:
        raise NotFound("no such article")
    # what topics match (the boilerplate left out), read by our own code, not through the analysts' guard
    found["matching_text"] = await _learnt(db.path).read(boilerplate.left_out, found["text"] or "")
    why = await asyncio.to_thread(_why, CONFIG_FILE, found)  # indexing the text: off the loop
    return _page(datasette, "article.html", a=found, why=why, who=_who(request),
                 csrftoken=request.scope["csrftoken"]())


async def curate(request: Request, datasette: Any) -> Response:
    """Star, unstar, tag, untag or note an article (POST, CSRF-checked by Datasette), then back to it."""
    if request.method != "POST":
        return Response.text("POST a curation form here", status=405)
    if CSRF_COOKIE not in request.cookies:
        # asgi-csrf lets a POST carrying no cookie at all through, as a cross-site form's would on a desk
        # without login: the token is checked only against the cookie the desk's own page set
        raise Forbidden("curate: no CSRF cookie; post the form of the article's page")
    db = await _archive(datasette, request)
    article_id, form, who = int(request.url_vars["id"]), await request.post_vars(), _who(request)
    action = form.get("action")
    if action not in ACTIONS:
        raise BadRequest(f"curate: the action is one of {', '.join(ACTIONS)}, not {action!r}")
    if await db.execute_fn(curation.on(curation.article, article_id)) is None:
        raise NotFound("no such article")
    if action in ("star", "unstar"):
        change = curation.on(curation.star, article_id, who, action == "star")
    elif action in ("tag", "untag"):
        change = curation.on(curation.tag, article_id, form.get("tag", ""), who, action == "tag")
    else:
        change = curation.on(curation.note, article_id, form.get("note", ""), who)
    try:
        await db.execute_write_fn(change)
    except curation.CurationError as exc:
        raise BadRequest(f"{action}: {exc}") from None
    except ArchiveBusyError:
        return Response.text(f"{action}: the archive is busy (a crawl is writing); send the form again\n", status=503)
    return Response.redirect(f"/desk/article/{article_id}")


async def bulletin(request: Request, datasette: Any) -> Response:
    """The bulletin of the period (`since`, default 7d), grouped by tag or topic (`by`), optionally one `tag`."""
    db = await _archive(datasette, request)
    try:
        since = when(request.args.get("since") or "7d")
    except ValueError as exc:
        raise BadRequest(f"since: {exc}") from None
    tag, by = request.args.get("tag") or None, "topic" if request.args.get("by") == "topic" else "tag"
    articles = await db.execute_fn(curation.on(curation.bulletin, since, tag))
    html = desk_pages.bulletin_html(articles, since=since, tag=tag, by=by,
                                    timezone=_config(datasette).get("timezone", "UTC"))
    return Response.html(html)


@hookimpl
def register_routes(datasette: Any) -> list[tuple[str, Any]]:
    """The desk at the root; Datasette's own pages (tables, SQL, exports) stay where they are."""
    return [(r"^/$", desk), (r"^/desk/article/(?P<id>\d+)$", article),
            (r"^/desk/article/(?P<id>\d+)/curate$", curate), (r"^/desk/bulletin$", bulletin)]
