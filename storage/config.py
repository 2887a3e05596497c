"""The `storage:` section of config.yaml."""

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from storage.units import Duration

_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


def masked(url: str) -> str:
    """A database URL as it may be shown: its password, if it holds one, replaced by ***."""
    return _PASSWORD.sub(r"\1***@", url)


class StorageConfig(BaseModel):
    """Where the archive lives (an SQLite file, or a PostgreSQL server when `url` is set), and how long a
    write waits while another process holds it locked."""

    model_config = ConfigDict(extra="forbid")

    path: Path = Path("data/veille.db")
    # postgresql://user@host:port/db: the archive on a PostgreSQL server, shared by several veille processes;
    # its password comes from libpq's environment (PGPASSWORD) or ~/.pgpass, better than written here
    url: str | None = None
    # an analyst's long transaction makes writes wait this long (SQLite's busy timeout, PostgreSQL's
    # lock_timeout) before they fail
    timeout: Duration = timedelta(seconds=30)

    @property
    def shown(self) -> str:
        """Where the archive is, as it may be shown: the PostgreSQL URL with its password masked, or the path."""
        return masked(self.url) if self.url else str(self.path)

    @field_validator("url")
    @classmethod
    def _postgresql_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - reading it checks it
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("postgresql", "postgres") or not parts.path.strip("/"):
            raise ValueError(f"{masked(url)!r} is not a PostgreSQL URL: write postgresql://user@host:port/database")
        return url


class DedupConfig(BaseModel):
    """How alike two texts must be to count as one story (the `dedup:` section)."""

    model_config = ConfigDict(extra="forbid")

    # The estimated Jaccard similarity of their word 3-shingles: 0.6 groups light rewrites (another title,
    # an added paragraph, other boilerplate) and keeps apart articles that only share a topic.
    threshold: float = Field(default=0.6, gt=0.0, lt=1.0)
    # a paragraph seen under this many distinct stories is boilerplate (storage.boilerplate): left out when
    # texts are compared and when topics match
    boilerplate_stories: int = Field(default=3, ge=2)
