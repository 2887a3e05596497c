"""The `storage:` section of config.yaml."""

from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from storage.units import Duration


class StorageConfig(BaseModel):
    """Where the SQLite archive lives, and how long a write waits while another process holds it locked."""

    model_config = ConfigDict(extra="forbid")

    path: Path = Path("data/veille.db")
    # an analyst's long transaction makes writes wait this long (SQLite's busy timeout) before they fail
    timeout: Duration = timedelta(seconds=30)


class DedupConfig(BaseModel):
    """How alike two texts must be to count as one story (the `dedup:` section)."""

    model_config = ConfigDict(extra="forbid")

    # The estimated Jaccard similarity of their word 3-shingles: 0.6 groups light rewrites (another title,
    # an added paragraph, other boilerplate) and keeps apart articles that only share a topic.
    threshold: float = Field(default=0.6, gt=0.0, lt=1.0)
    # a paragraph seen under this many distinct stories is boilerplate (storage.boilerplate): left out when
    # texts are compared and when topics match
    boilerplate_stories: int = Field(default=3, ge=2)
