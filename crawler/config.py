"""The `crawl:` defaults and the `sources:` list of config.yaml."""

from datetime import timedelta
from typing import Literal, Self

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

from storage.units import Duration, Size

Kind = Literal["feed", "page", "sitemap"]


class CrawlConfig(BaseModel):
    """Defaults for every source: how often, how long to wait, how much to read."""

    model_config = ConfigDict(extra="forbid")

    interval: Duration = timedelta(minutes=15)
    timeout: Duration = timedelta(seconds=30)
    max_bytes: Size = 10_000_000
    user_agent: str = "veille/0.1 (+https://github.com/veille-project/veille; news monitoring)"
    concurrency_per_domain: int = Field(default=2, ge=1)
    delay: Duration = timedelta(seconds=0.5)
    obey_robots: bool = True
    # query parameters dropped from URLs on top of the usual trackers (utm_*, fbclid, gclid, xtor, at_*...)
    tracking_params: list[str] = Field(default_factory=list)


class Source(BaseModel):
    """One place articles come from: a feed, a listing page with a link selector, or a sitemap."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    feed: AnyHttpUrl | None = None
    page: AnyHttpUrl | None = None
    sitemap: AnyHttpUrl | None = None
    links: str | None = None
    match: str | None = None
    interval: Duration | None = None
    timeout: Duration | None = None
    max_bytes: Size | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _one_url(self) -> Self:
        given = [kind for kind in ("feed", "page", "sitemap") if getattr(self, kind) is not None]
        if not given:
            raise ValueError("a source needs one of feed:, page: or sitemap: (its URL)")
        if len(given) > 1:
            raise ValueError(f"a source has one URL, not {' and '.join(given)}: split it into two sources")
        if self.page is not None and not self.links:
            raise ValueError("a page: source needs links: (a CSS selector for its article links)")
        return self

    @property
    def kind(self) -> Kind:
        """Which kind of source this is."""
        return "feed" if self.feed else "page" if self.page else "sitemap"

    @property
    def url(self) -> str:
        """The source's own URL, as written in config."""
        return str(self.feed or self.page or self.sitemap)
