"""The Datasette plugin that makes `veille serve`'s search box read the topics' language.

Datasette searches a table's full-text index with `match escape_fts(:search)` unless its searchmode is raw;
this plugin puts veille's compiler (storage.fts_query) in place of `escape_fts` on the archive's connections,
so `Gaia-X`, `l'ANSSI`, `coeur` or `"cloud souverain" AND NOT football` find in the browser what they find
in `veille search`, the bot's /search and the topics. A query it cannot read is a 400 with one line saying
why, before any SQL runs. `?_searchmode=raw` still hands FTS5 syntax through, for those who want it.
"""

from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import BadRequest

from storage.errors import SearchSyntaxError
from storage.fts_query import fts_query
from storage.serving import search_in_topics_language

NAME = "veille-serve-search"


def _archive(datasette: Any, database: str) -> bool:
    return database == (datasette.plugin_config(NAME) or {}).get("database")


@hookimpl(trylast=True)  # after Datasette's own prepare_connection, which defines escape_fts
def prepare_connection(conn: Any, database: str, datasette: Any) -> None:
    """On the archive, `escape_fts(q)` compiles q from the topics' language."""
    if _archive(datasette, database):
        search_in_topics_language(conn)


@hookimpl
def filters_from_request(request: Any, database: str, table: str, datasette: Any) -> None:
    """Refuse a search the topics' language cannot read, with the reason, before the query runs."""
    if not _archive(datasette, database) or request.args.get("_searchmode") == "raw":
        return
    for key in request.args:
        if key.startswith("_search") and key != "_searchmode" and request.args[key].strip():
            try:
                fts_query(request.args[key])
            except SearchSyntaxError as exc:
                raise BadRequest(f"search: {exc}") from None
