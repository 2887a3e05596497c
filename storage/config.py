"""The `storage:` section of config.yaml."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict


class StorageConfig(BaseModel):
    """Where the SQLite archive lives."""

    model_config = ConfigDict(extra="forbid")

    path: Path = Path("data/veille.db")
