"""`veille watch history NAME`: the versions kept of a watched page, newest first, with their diffs."""

import json
from dataclasses import asdict
from pathlib import Path

import click

from storage import StorageError
from veille.options import config_option, load_config, open_db


@click.group(name="watch")
def watch_group() -> None:
    """Watched pages (sources with watch:): their versions and changes."""


@watch_group.command()
@click.argument("name")
@config_option
@click.option("--json", "as_json", is_flag=True, help="A JSON array of versions (number, fetched_at, added...).")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="At most this many versions.")
def history(name: str, config_path: Path, as_json: bool, limit: int) -> None:
    """List the versions kept of the watched page NAME, newest first, with the lines each added and removed."""
    config = load_config(config_path)
    if not any(s.name == name and s.kind == "watch" for s in config.sources):
        watches = ", ".join(s.name for s in config.sources if s.kind == "watch") or "none"
        raise click.ClickException(f"no watch: source named {name!r} in {config_path} (watches: {watches})")
    with open_db(config) as archive:
        try:
            from storage import watch  # storage.articles brings stories' libraries: not for `veille --help`

            versions = archive.read_now(watch.history, name)[:limit]
        except StorageError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps([{k: v for k, v in asdict(v).items() if k != "lines"} for v in versions],
                              ensure_ascii=False, indent=2))
        return
    if not versions:
        click.echo(f"{name}: no version kept yet (run `veille crawl`)")
    for version in versions:
        what = "first version" if version.number == 1 else f"{len(version.added)} added, {len(version.removed)} removed"
        click.echo(f"version {version.number}  {version.fetched_at}  {version.title}  ({what})")
        for line in version.added:
            click.echo(f"  + {line}")
        for line in version.removed:
            click.echo(f"  - {line}")
