"""What every command shares: the --config option, and loading config and archive as one-line errors."""

from pathlib import Path
from typing import TYPE_CHECKING

import click

from storage import Archive, StorageError

if TYPE_CHECKING:
    from veille.config import Config

config_option = click.option("--config", "config_path", default="config.yaml", show_default=True,
                             type=click.Path(dir_okay=False, path_type=Path), help="The config file.")


def load_config(path: Path) -> "Config":
    """The validated config, or a ClickException listing every problem by key path."""
    from veille.config import ConfigError, load  # pydantic and every room's model: not for `veille --help`

    try:
        return load(path)
    except ConfigError as exc:
        raise click.ClickException("\n".join(f"{exc.path}: {p}" for p in exc.problems)) from None


def open_db(config: "Config") -> Archive:
    """The archive named in config, or a ClickException saying why it cannot be opened; a statement finding it
    locked by another process waits up to `storage.timeout`."""
    try:
        return Archive.open(config.storage.path, url=config.storage.url,
                            timeout=config.storage.timeout.total_seconds())
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
