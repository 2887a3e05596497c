"""robots.txt, fetched once per host and kept for a day or what its caching headers say (RFC 9309, 2.4).

Scrapy's RobotsTxtMiddleware keeps a host's parser for as long as its crawler lives: with one crawler for
the whole process, a robots.txt read at start would hold for weeks. Here each host's entry expires, and
the robots.txt request carries the run that asked for it (`robots_for`, not `run`: stopping that source
must not drop a file other sources wait for), so the address guard checks it and its redirects.
"""

import time

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.extensions.httpcache import parse_cachecontrol, rfc1123_to_epoch
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

DAY = 24 * 3600.0
# A robots.txt that could not be fetched (Scrapy then allows everything) is asked for again sooner
RETRY_FAILED = 3600.0
SHORTEST = 60.0  # "max-age=0" would mean one robots.txt per request


def lifetime(response: Response, now: float) -> float:
    """How long a robots.txt answer may be kept: its max-age or Expires, within a minute and a day."""
    control = parse_cachecontrol(response.headers.get(b"Cache-Control") or b"")
    for key in (b"s-maxage", b"max-age"):
        value = control.get(key)
        if value is not None and value.strip().isdigit():
            return min(DAY, max(SHORTEST, float(value)))
    expires = rfc1123_to_epoch(response.headers.get(b"Expires"))
    if expires is not None:
        return min(DAY, max(SHORTEST, expires - now))
    return DAY


class CachedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, one fetch per host and period for every source of that host."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._expires: dict[str, float] = {}

    async def robot_parser(self, request: Request) -> RobotParser | None:
        url = urlparse_cached(request)
        netloc = url.netloc
        entry = self._parsers.get(netloc)
        if netloc in self._parsers and not isinstance(entry, Deferred) \
                and self._expires.get(netloc, 0.0) <= time.monotonic():
            del self._parsers[netloc]
        if netloc not in self._parsers:
            self._parsers[netloc] = Deferred()
            robots = Request(f"{url.scheme}://{netloc}/robots.txt", priority=self.DOWNLOAD_PRIORITY,
                             meta={"dont_obey_robotstxt": True, "robots_for": request.meta.get("run")},
                             callback=NO_CALLBACK)
            self._expires[netloc] = time.monotonic() + RETRY_FAILED
            try:
                response = await self.crawler.engine.download_async(robots)
                self._expires[netloc] = time.monotonic() + lifetime(response, time.time())
                await self._parse_robots(response, netloc, request)
            except Exception as exc:  # Scrapy's own handling: said, and the host's pages allowed
                self._robots_error(exc, netloc)
            self._stats.inc_value("robotstxt/request_count")
        parser = self._parsers[netloc]
        if isinstance(parser, Deferred):
            return await maybe_deferred_to_future(parser)
        return parser
