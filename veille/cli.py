"""The `veille` command: crawl, run, search, status, config check.

Commands of other areas live in their own `veille/cli_*.py` modules and are added to `main` at the end.
"""

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from storage import StorageError
from veille import __version__, logs
from veille.options import config_option, load_config, open_db

ROLES = ("crawl", "deliver", "bot", "all")  # veille.service.ROLES, without importing the service (the reactor)


@click.group()
@click.version_option(__version__, prog_name="veille")
def main() -> None:
    """veille: watch news sources, archive articles, alert Telegram chats on topics."""


@main.command()
@config_option
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def crawl(config_path: Path, log_format: str) -> None:
    """Crawl every source once, store, match, deliver alerts, and exit."""
    config = load_config(config_path)
    logs.setup(fmt=log_format, token=config.telegram.resolved_token())
    _run_in_loop(lambda: _service().crawl_once(config))


@main.command()
@config_option
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--metrics-port", type=click.IntRange(1, 65535), help="Expose Prometheus metrics on this port.")
@click.option("--grace", default=20.0, show_default=True, help="Seconds running crawls get to finish on stop.")
@click.option("--role", type=click.Choice(ROLES), default="all", show_default=True,
              help="What this process does: crawl (the sources), deliver (match and send alerts), bot (answer"
                   " commands; one of the bot processes leads), or all of them.")
def run(config_path: Path, log_format: str, metrics_port: int | None, grace: float, role: str) -> None:
    """Run the service: scheduled crawls, alert delivery and the Telegram bot, until Ctrl-C or SIGTERM.

    config.yaml is reloaded when it changes (or on SIGHUP); an invalid edit is logged and ignored.

    With --role, the work is split across processes sharing one archive, any number of each role: on one
    machine over the SQLite archive; on several machines, with storage.url (PostgreSQL) and crawl.queue
    (Redis) set. `veille status` lists them.
    """
    config = load_config(config_path)
    if role == "bot" and not config.telegram.resolved_token():
        click.echo("Error: --role bot needs a bot token: set TELEGRAM_BOT_TOKEN (or telegram.token)", err=True)
        sys.exit(2)
    logs.setup(fmt=log_format, token=config.telegram.resolved_token())
    _run_in_loop(lambda: _service().Service(config, config_path, grace=grace, role=role).run(metrics_port))


def _service() -> Any:
    from veille import service  # imported late: the reactor must be installed first

    return service


def _run_in_loop(main: Callable[[], Any]) -> None:
    from veille import loop

    try:
        loop.run(main)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(config_path: Path, as_json: bool) -> None:
    """Health of each source, of the alert outbox, and the workers of `veille run` (gone: 3 beats missed)."""
    from storage import health, outbox, workers

    config = load_config(config_path)
    with open_db(config) as archive:
        known = archive.read_now(health.all_sources)
        counts = archive.read_now(outbox.counts)
        failed, moved = list(archive.read_now(outbox.failures)), archive.read_now(outbox.migrations)
        running = archive.read_now(workers.listing)
    from alerts.config import masked

    # a chat id stays a number; a URL's password never shows
    failed = [{**f, "chat_id": f["chat_id"] if isinstance(f["chat_id"], int) else masked(f["chat_id"])}
              for f in failed]
    rows = [{"name": s.name, "kind": s.kind, **{k: v for k, v in known.get(s.name, {}).items()
                                                if k not in ("name", "etag", "last_modified")}}
            for s in config.sources]
    report: dict[str, Any] = {"sources": rows, "outbox": counts, "failed_alerts": failed, "moved_chats": moved,
                              "workers": running}
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    from alerts.format import DAY_TIME_ZONE, local_time

    def shown(stamp: str | None) -> str:
        return local_time(stamp, config.alerts.timezone, DAY_TIME_ZONE)

    for row in rows:
        state = ("never crawled" if not row.get("last_attempt") else
                 f"FAILING x{row['consecutive_failures']}: {row['last_error']}"
                 + (f" (next attempt {shown(row['next_attempt'])})" if row.get("next_attempt") else "")
                 if row.get("last_error")
                 else f"ok, {row['items_seen']} items, {row['items_new']} new")
        click.echo(f"{row['name']:<24} {row['kind']:<8} {shown(row.get('last_attempt')) or '-':<22} {state}")
    counts = report["outbox"]
    sending = f", {counts['sending']} being sent" if counts.get("sending") else ""
    click.echo(f"alerts: {counts['pending']} pending{sending}, {counts['sent']} sent, {counts['failed']} failed")
    for old, new in report["moved_chats"].items():
        click.echo(f"  chat {old} became the supergroup {new}: its alerts go there; replace it in config.yaml")
    for failed in report["failed_alerts"]:
        to = f"chat {failed['chat_id']}" if isinstance(failed["chat_id"], int) else failed["chat_id"]
        click.echo(f"  failed alert {failed['id']} to {to} ({failed['topic']}, "
                   f"{failed['title'][:60]!r}): {failed['last_error']}")
    for worker in report["workers"]:
        click.echo(f"worker {worker['role']:<8} {worker['host']} pid {worker['pid']}, started "
                   f"{shown(worker['started'])}, last heartbeat {shown(worker['last_beat'])}"
                   + (" GONE (3 heartbeats missed)" if worker["gone"] else ""))


@main.command()
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="Where to keep the demo's config and archive (default: a new temporary folder).")
def demo(folder: Path | None) -> None:
    """See veille work offline: a small French news site on 127.0.0.1 is crawled and alerts print here."""
    import os
    import tempfile

    from veille import demo as demo_site

    folder = folder or Path(tempfile.mkdtemp(prefix="veille-demo-"))
    if (folder / "veille.db").exists():
        raise click.ClickException(f"{folder} already holds a demo archive: give another --dir")
    os.environ.pop("TELEGRAM_BOT_TOKEN", None)  # the demo's alerts go to the console, never to a real chat
    logs.setup()
    with demo_site.serving() as base:
        config_path = demo_site.write_config(folder, base)
        click.echo(f"demo site on {base}; config and archive in {folder}", err=True)
        config = load_config(config_path)
        _run_in_loop(lambda: _service().crawl_once(config))
    click.echo(f"\nNow try:\n  veille search 'cloud souverain' --config {config_path}\n"
               f"  veille serve --config {config_path}      # then open http://127.0.0.1:8001/", err=True)


@main.group(name="config")
def config_group() -> None:
    """Check the configuration."""


@config_group.command()
@config_option
def check(config_path: Path) -> None:
    """Validate the config file and summarise its sources and topics."""
    config = load_config(config_path)
    kinds: dict[str, int] = {}
    for s in config.sources:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
    click.echo(f"{config_path}: OK")
    click.echo(f"  sources: {len(config.sources)} ({summary})")
    click.echo(f"  topics: {len(config.topics)} ({', '.join(t.name for t in config.topics) or 'none'})")
    click.echo(f"  archive: {config.storage.shown}")
    delivery = "Telegram" if config.telegram.resolved_token() else "console (no TELEGRAM_BOT_TOKEN)"
    click.echo(f"  alerts: {delivery}")


# commands of other areas, in their own modules, added last
from veille import cli_archive  # noqa: E402
from veille.cli_sources import sources_group  # noqa: E402
from veille.cli_topics import topics_group  # noqa: E402
from veille.cli_watch import watch_group  # noqa: E402

for _command in (cli_archive.search, cli_archive.export, cli_archive.serve, cli_archive.trends, cli_archive.bulletin,
                 cli_archive.archive_group,
                 sources_group, topics_group, watch_group):
    main.add_command(_command)

if __name__ == "__main__":
    sys.exit(main())
