"""The `crawl:` defaults and the `sources:` list of config.yaml."""

import re
from datetime import timedelta
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

from storage.units import Duration, Size


def _css_problem(selector: str) -> str | None:
    """Why a CSS selector cannot be used, or None."""
    from cssselect import GenericTranslator, SelectorError

    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError as exc:
        return str(exc)
    return None


Kind = Literal["feed", "page", "sitemap", "watch"]
KINDS: tuple[Kind, ...] = ("feed", "page", "sitemap", "watch")


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
    max_redirects: int = Field(default=5, ge=0, le=20)
    retries: int = Field(default=2, ge=0, le=10)
    max_retry_wait: Duration = timedelta(seconds=60)
    max_backoff: Duration = timedelta(hours=6)
    max_articles: int = Field(default=200, ge=1)
    # the longest one source's crawl may take in a round: past it, the rest waits for the next round
    budget: Duration = timedelta(minutes=5)
    recent: Duration = timedelta(days=3)
    # child sitemaps read per source and crawl, and how deep indexes of indexes are followed
    max_sitemaps: int = Field(default=50, ge=1, le=10_000)
    sitemap_depth: int = Field(default=2, ge=1, le=5)
    # past this, a page's extraction is stopped (its worker replaced) and the feed's own text kept
    extract_timeout: Duration = timedelta(seconds=20)
    # query parameters dropped from URLs on top of the usual trackers (utm_*, fbclid, gclid, xtor, at_*...)
    tracking_params: list[str] = Field(default_factory=list)
    # redis://host:port/db (or unix:///path.sock): crawl workers on several machines share the crawl through
    # this Redis (crawler.shared): each source crawled once per interval across them
    queue: str | None = None

    @field_validator("queue")
    @classmethod
    def _redis_url(cls, url: str | None) -> str | None:
        if url is not None and urlsplit(url).scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"{url.split('@')[-1]!r} is not a Redis URL (redis://host:port/db)")
        return url


class Source(BaseModel):
    """One place articles come from: a feed, a listing page with a link selector, a sitemap, or a watched page
    (whose changes become articles: crawler.watch)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    feed: AnyHttpUrl | None = None
    page: AnyHttpUrl | None = None
    sitemap: AnyHttpUrl | None = None
    watch: AnyHttpUrl | None = None
    select: str | None = None  # watch: the part of the page watched (CSS), else the whole page
    ignore: list[str] = Field(default_factory=list)  # watch: regular expressions of churn left out of comparing
    chats: list[int] = Field(default_factory=list)  # watch: chats told of every change
    links: str | None = None
    follow: str | None = None
    max_pages: int = Field(default=1, ge=1, le=100)
    match: str | None = None
    recent: Duration | None = None
    max_articles: int | None = Field(default=None, ge=1)
    budget: Duration | None = None
    max_sitemaps: int | None = Field(default=None, ge=1, le=10_000)
    interval: Duration | None = None
    cron: str | None = None
    timeout: Duration | None = None
    max_bytes: Size | None = None
    delay: Duration | None = None
    obey_robots: bool | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _one_url(self) -> Self:
        given = [kind for kind in KINDS if getattr(self, kind) is not None]
        if not given:
            raise ValueError("a source needs one of feed:, page:, sitemap: or watch: (its URL)")
        if len(given) > 1:
            raise ValueError(f"a source has one URL, not {' and '.join(given)}: split it into two sources")
        if self.cron is not None:
            if self.interval is not None:
                raise ValueError("a source runs on interval: or on cron:, not both")
            from apscheduler.triggers.cron import CronTrigger  # only for a config that has a cron: line

            try:
                CronTrigger.from_crontab(self.cron)
            except ValueError as exc:
                raise ValueError(f"cron: {self.cron!r} is not a crontab line (minute hour day month weekday):"
                                 f" {exc}") from None
        if self.page is not None and not self.links:
            raise ValueError("a page: source needs links: (a CSS selector for its article links)")
        for key in ("links", "follow"):
            if getattr(self, key) is not None and self.page is None:
                raise ValueError(f"{key}: applies to page: sources only")
        for key in ("select", "ignore", "chats"):
            if getattr(self, key) and self.watch is None:
                raise ValueError(f"{key}: applies to watch: sources only")
        for pattern in self.ignore:
            try:
                re.compile(pattern)
            except (re.error, OverflowError, RecursionError) as exc:
                raise ValueError(f"ignore: {pattern!r} is not a valid regular expression ({exc})") from None
        for key in ("links", "follow", "select"):
            selector = getattr(self, key)
            if selector is not None and (problem := _css_problem(selector)):
                raise ValueError(f"{key}: is not a valid CSS selector ({problem})")
        if self.match is not None:
            try:
                re.compile(self.match)
            except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999}: OverflowError
                raise ValueError(f"match: is not a valid regular expression ({exc})") from None
        return self

    @property
    def kind(self) -> Kind:
        """Which kind of source this is."""
        return next(kind for kind in KINDS if getattr(self, kind) is not None)

    @property
    def url(self) -> str:
        """The source's own URL, as written in config."""
        return str(self.feed or self.page or self.sitemap or self.watch)
