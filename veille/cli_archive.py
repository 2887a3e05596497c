"""Commands for analysts: search the archive, export a query, explore it in a browser, chart trends."""

import difflib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from storage import SearchSyntaxError
from veille.options import config_option, load_config, open_db

HERE = Path(__file__).parent


def _date_option(name: str, help_text: str) -> Any:
    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        from veille.archive_output import when

        try:
            return when(value) if value else None
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return click.option(name, callback=convert, help=help_text)


def _filters(func: Any) -> Any:
    for option in reversed([
        _date_option("--since", "Only articles published since (2025-03-01, or 7d, 2w, 6mo, 1y ago)."),
        _date_option("--until", "Only articles published until this date (inclusive)."),
        click.option("--source", help="Only articles from this source."),
        click.option("--topic", help="Only articles that matched this topic."),
        click.option("--lang", help="Only articles in this language (fr, en...)."),
        click.option("--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True),
    ]):
        func = option(func)
    return func


def _known(name: str | None, names: list[str], option: str, what: str) -> None:
    """A --source or --topic that config does not know is an error, with the closest name."""
    if name is None or name in names:
        return
    close = difflib.get_close_matches(name, names, n=1)
    hint = f": did you mean {close[0]}?" if close else f" (known: {', '.join(names[:10]) or 'none'})"
    raise click.BadParameter(f"no {what} {name!r} in config or the archive{hint}", param_hint=option)


@click.command()
@click.argument("query")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--all-copies", is_flag=True, help="Every copy of a story, not one result per story.")
@_filters
def search(query: str, config_path: Path, as_json: bool, as_csv: bool, limit: int, all_copies: bool,
           **filters: Any) -> None:
    """Full-text search of the archive, in the topics' language ("a phrase", AND, OR, NOT, prefix*, NEAR(a b))."""
    from storage.search import known_names
    from storage.search import search as run_search
    from veille import archive_output

    config = load_config(config_path)
    archive = open_db(config)
    sources, topics = archive.read_now(known_names)
    _known(filters.get("source"), sorted(sources | {src.name for src in config.sources}), "--source", "source")
    _known(filters.get("topic"), sorted(topics | {t.name for t in config.topics}), "--topic", "topic")
    try:
        results = archive.read_now(run_search, query, limit=limit, all_copies=all_copies, **filters)
    except SearchSyntaxError as exc:
        raise click.ClickException(str(exc)) from None
    results = [archive_output.shown(r) for r in results]
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
    elif as_csv:
        click.echo("".join(archive_output.to_csv(results, archive_output.RESULT_FIELDS)), nl=False)
    elif not results:
        click.echo("No article matches.", err=True)
    elif sys.stdout.isatty():
        click.echo(archive_output.results_table(results, timezone=config.alerts.timezone), nl=False)
    else:
        click.echo(archive_output.results_lines(results, config.alerts.timezone))


@click.command()
@click.argument("query", default="")
@config_option
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
@_filters
def export(query: str, config_path: Path, fmt: str, out: Path | None, **filters: Any) -> None:
    """Every article matching QUERY (or every article) as CSV or JSON lines, with its full text."""
    from storage.search import search_all
    from veille import archive_output

    rows = open_db(load_config(config_path)).iterate_now(search_all, query, **filters)
    fields = ["id", "url", "title", "source", "published", "language", "author", "story_id", "text"]
    chunks = archive_output.to_csv(rows, fields) if fmt == "csv" else archive_output.to_jsonl(rows)
    stream = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
    try:
        for chunk in chunks:
            stream.write(chunk)
    except SearchSyntaxError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if out:
            stream.close()


@click.command()
@click.argument("topics", nargs=-1, required=True)
@config_option
@_date_option("--since", "From this date, or this long ago (default 1y).")
@click.option("--by", type=click.Choice(["day", "week", "month", "year"]), default="week", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="trends.png or trends.html")
def trends(topics: tuple[str, ...], config_path: Path, since: str | None, by: Any, out: Path | None) -> None:
    """Stories per period for each TOPIC: a table, or a chart (--out trends.png or trends.html)."""
    from storage.search import known_names
    from storage.trends import series
    from veille import archive_output

    config = load_config(config_path)
    archive = open_db(config)
    names = sorted(archive.read_now(known_names)[1] | {t.name for t in config.topics})
    for topic in topics:
        _known(topic, names, "TOPICS", "topic")
    data = archive.read_now(series, list(topics), since=since or archive_output.when("1y"), by=by)
    if out is None:
        click.echo(archive_output.trends_table(data))
    elif out.suffix.lower() == ".png":
        out.write_bytes(archive_output.trends_png(data, by))
    elif out.suffix.lower() in (".html", ".htm"):
        out.write_text(archive_output.trends_html(data, by), encoding="utf-8")
    else:
        raise click.BadParameter("write the chart to a .png or .html file", param_hint="--out")
    if out:
        click.echo(f"wrote {out}", err=True)


def _added(metadata: dict[str, Any], path: Path) -> dict[str, Any]:
    """Our metadata with a team's added (top-level keys such as `allow`, other plugins' settings); its
    `databases` and our plugins' settings stay ours."""
    import yaml

    try:
        extra = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--metadata") from None
    if not isinstance(extra, dict) or not isinstance(extra.get("plugins", {}), dict):
        raise click.BadParameter(f"{path} is not a mapping of metadata keys (plugins: a mapping)",
                                 param_hint="--metadata")
    if clash := sorted(set(extra.get("plugins") or {}) & set(metadata["plugins"])):
        raise click.BadParameter(f"{path} configures {', '.join(clash)}, which veille serve sets itself",
                                 param_hint="--metadata")
    added = {**metadata, **{k: v for k, v in extra.items() if k not in ("databases", "plugins")}}
    added["plugins"] = {**(extra.get("plugins") or {}), **metadata["plugins"]}
    return added


@click.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535))
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also answer requests for this Host name (a reverse proxy's); repeatable.")
@click.option("--all-tables", is_flag=True,
              help="Show every table (chats, outbox...) and the archive's path: for an admin only.")
@click.option("--metadata", "team_metadata", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Datasette metadata (JSON or YAML) to add: `allow` blocks, an auth plugin's settings.")
def serve(config_path: Path, host: str, port: int, allow_hosts: tuple[str, ...], all_tables: bool,
          team_metadata: Path | None) -> None:
    """The analysts' desk in a browser: search, read, star/tag/note, the bulletin; Datasette's tables and SQL."""
    from datasette.cli import cli as datasette_cli
    from datasette.plugins import pm

    from veille import serve_desk, serve_guard, serve_search

    config = load_config(config_path)
    if config.storage.url:  # Datasette reads SQLite files only: said, not faked
        click.echo("Error: veille serve reads SQLite only (Datasette), and storage.url is a PostgreSQL archive:"
                   " explore it with PostgreSQL's tools (its articles_explore view) or veille search", err=True)
        raise SystemExit(2)
    open_db(config).close()  # creates and migrates the archive, so the web UI finds its view
    path = Path(config.storage.path)
    metadata = json.loads((HERE / "datasette_metadata.json").read_text(encoding="utf-8"))
    metadata["databases"] = {path.stem: metadata["databases"]["archive"]}
    metadata["description_html"] = metadata["description_html"].replace("/archive/", f"/{path.stem}/")
    metadata["plugins"] = {serve_guard.NAME: {"database": path.stem, "listen": host, "allow_hosts": list(allow_hosts),
                                              "all_tables": all_tables},
                           serve_search.NAME: {"database": path.stem},
                           serve_desk.NAME: {"database": path.stem, "timezone": config.alerts.timezone}}
    serve_desk.CONFIG_FILE = config_path.resolve()  # not in the metadata, which analysts can read
    if team_metadata:
        metadata = _added(metadata, team_metadata)
    for plugin in (serve_guard, serve_search, serve_desk):
        if not pm.is_registered(plugin):
            pm.register(plugin, name=plugin.NAME)
    with tempfile.TemporaryDirectory() as tmp:
        meta_path = Path(tmp) / "metadata.json"
        meta_path.write_text(json.dumps(metadata), encoding="utf-8")
        click.echo(f"serving {path} on http://{host}:{port}/ (the desk; tables, read-only, at /{path.stem})", err=True)
        datasette_cli.main(["serve", str(path), "--metadata", str(meta_path), "--host", host,
                            "--port", str(port), "--setting", "sql_time_limit_ms", "3000",
                            "--setting", "facet_time_limit_ms", "1000"], prog_name="veille serve")


@click.command()
@config_option
@_date_option("--since", "What was starred or tagged since (2025-03-01, or 7d, 2w ago; default 7d).")
@click.option("--tag", help="Only the articles with this tag.")
@click.option("--by", type=click.Choice(["tag", "topic"]), default="tag", show_default=True, help="Group by.")
@click.option("--title", default="Bulletin de veille", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
def bulletin(config_path: Path, since: str | None, tag: str | None, by: str, title: str, out: Path | None) -> None:
    """The bulletin de veille: the articles starred or tagged at the desk in a period, as HTML to print or mail."""
    from storage.curation import bulletin as kept_since
    from veille import archive_output, desk_pages

    config = load_config(config_path)
    since = since or archive_output.when("7d")
    articles = open_db(config).read_now(kept_since, since, tag)
    html = desk_pages.bulletin_html(articles, since=since, tag=tag, by=by, timezone=config.alerts.timezone,
                                    title=title)
    if out is None:
        click.echo(html, nl=False)
        return
    out.write_text(html, encoding="utf-8")
    click.echo(f"wrote {out}: {len(articles)} article{'s' if len(articles) != 1 else ''}", err=True)


@click.group(name="archive")
def archive_group() -> None:
    """The archive itself: move it to PostgreSQL."""


@archive_group.command(name="copy")
@config_option
@click.option("--to", "url", required=True, help="The empty PostgreSQL archive: postgresql://user@host:port/db.")
def copy_command(config_path: Path, url: str) -> None:
    """Copy the SQLite archive of config (storage.path) into an empty PostgreSQL archive, checked by counts.

    Then set `storage.url` to that URL in config.yaml.
    """
    from storage import StorageError
    from storage.config import StorageConfig, masked

    config = load_config(config_path)
    try:
        StorageConfig(url=url)  # the same check as config.yaml's storage.url
        from storage.postgres.copy import copy_archive
    except (ValueError, ImportError) as exc:
        raise click.ClickException(f"--to: {exc}" if isinstance(exc, ValueError) else
                                   "PostgreSQL needs psycopg: pip install 'veille[postgres]'") from None
    try:
        copied = copy_archive(Path(config.storage.path), url,
                              said=lambda table, n: click.echo(f"  {table}: {n} rows", err=True))
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"copied {config.storage.path} to {masked(url)}: {copied['articles']} articles, every table's rows "
               "counted on both sides; now set storage.url in config.yaml", err=True)
