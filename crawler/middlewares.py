"""Downloader middlewares: the private-network guard, and retries that back off and honour Retry-After."""

import asyncio
import logging
import socket
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar, Self

from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import load_object
from scrapy.utils.response import response_status_message
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectError, ConnectionLost, DNSLookupError
from twisted.internet.error import TimeoutError as TxTimeout
from twisted.web.client import ResponseFailed

from crawler import headers
from crawler.addresses import WEB_SCHEMES, Reach, answer_refusal, refusal
from crawler.config import Source
from crawler.run import Run

log = logging.getLogger("veille.crawl")


class AddressRefused(IgnoreRequest):
    """A link the private-network guard refused: never fetched, and not kept as an article."""


async def resolve(host: str) -> list[str]:
    """Every address a host name resolves to (an IP literal resolves to itself, without any lookup)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, refusing at connect time any non-public answer for a name no source lives on.

    The guard middleware decides per source before a request is sent; this resolver is the last word when
    the connection is made, so that a name answering differently the second time (DNS rebinding) still
    cannot reach a private address. Hosts of private sources written in config are trusted.
    """

    trusted_hosts: ClassVar[set[str]] = set()

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:  # noqa: N802 (Twisted's)
        answer = super().getHostByName(name, timeout)
        answer.addCallback(self._checked, name)
        return answer

    @staticmethod
    def _checked(address: str, name: str) -> str:
        reason = answer_refusal(name, address, GuardedResolver.trusted_hosts)
        if reason:
            raise DNSLookupError(reason)
        return address


def install_guarded_resolver(dns_timeout: float = 60.0, cache_size: int = 10_000) -> None:
    """Make GuardedResolver the reactor's resolver (Scrapy only installs one under CrawlerProcess)."""
    from twisted.internet import reactor

    if not isinstance(getattr(reactor, "resolver", None), GuardedResolver):
        GuardedResolver(reactor, cache_size, dns_timeout).install_on_reactor()


class AddressGuardMiddleware:
    """Refuse, before any connection, a request whose host resolves where its source may not reach.

    Runs before robots.txt and before every redirect hop is scheduled again, so each hop is checked.
    The source is the run in the request's meta (or VEILLE_SOURCE_URL, for a crawler of one source).
    The source's own host, as written in config, is trusted (its robots.txt and pages need no check).
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.source_url: str = crawler.settings.get("VEILLE_SOURCE_URL") or ""
        # per source crawl, dropped with it: what its own host resolves to, and the hosts its links named
        self._reach: weakref.WeakKeyDictionary[Run, Reach] = weakref.WeakKeyDictionary()
        self._addresses: weakref.WeakKeyDictionary[Run, dict[str, list[str]]] = weakref.WeakKeyDictionary()
        alone = Source.model_validate({"name": "guard", "feed": self.source_url}) if self.source_url else None
        self._alone = Run(alone) if alone else None
        install_guarded_resolver(crawler.settings.getfloat("DNS_TIMEOUT"))
        headers.install()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def _resolve(self, run: Run, host: str) -> list[str]:
        known = self._addresses.setdefault(run, {})
        if host not in known:
            known[host] = await resolve(host)
        return known[host]

    async def reach(self, run: Run) -> Reach:
        """What this source's links may reach, from where the source itself lives."""
        if run not in self._reach:
            host = urlparse_cached(Request(run.source.url)).hostname or ""
            self._reach[run] = reach = Reach.of_source(run.source.url, await self._resolve(run, host))
            if reach.own_host:
                GuardedResolver.trusted_hosts.add(reach.own_host)
        return self._reach[run]

    async def process_request(self, request: Request) -> None:
        run = request.meta.get("run") or request.meta.get("robots_for") or self._alone
        if not isinstance(run, Run):
            return
        source_url = run.source.url
        reach = await self.reach(run)
        host = urlparse_cached(request).hostname or ""
        source_host = urlparse_cached(Request(source_url)).hostname or ""
        same_host = host == source_host and request.url.split(":", 1)[0].lower() in WEB_SCHEMES
        if request.url == source_url or (same_host and reach.own is None):
            # a public source's host is trusted as written in config: its robots.txt and its own pages too
            return
        addresses = [] if reach.own_host else await self._resolve(run, host)
        reason = refusal(request.url, addresses, reach)
        if reason:
            if self.crawler.stats:
                self.crawler.stats.inc_value("veille/refused")
            log.warning("%s", reason)
            raise AddressRefused(reason)


def retry_after(value: bytes | None, now: datetime) -> float | None:
    """The wait a Retry-After header asks for, in seconds (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def backoff(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """The wait before retry number `attempt` + 1 when the server does not say: exponential, capped."""
    return min(cap, base * 2**attempt)


class PatientRetryMiddleware:
    """Retry 5xx, 429, 408 and timeouts with exponential backoff, honouring Retry-After up to a ceiling.

    A server that asks for a longer wait than `RETRY_MAX_WAIT` is not retried in this crawl.
    """

    # Scrapy 2.13+ hands its own exceptions (DownloadTimeoutError, DownloadFailedError...) to middlewares,
    # listed in its RETRY_EXCEPTIONS setting; the Twisted ones are for older Scrapys
    EXCEPTIONS = (TxTimeout, DNSLookupError, ConnectError, ConnectionLost, ResponseFailed, IOError)

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        if not settings.getbool("RETRY_ENABLED"):
            raise NotConfigured
        self.crawler = crawler
        self.max_times = settings.getint("RETRY_TIMES")
        self.codes = {int(c) for c in settings.getlist("RETRY_HTTP_CODES")}
        self.max_wait = settings.getfloat("RETRY_MAX_WAIT", 60.0)
        self.exceptions = self.EXCEPTIONS + tuple(
            load_object(name) if isinstance(name, str) else name for name in settings.getlist("RETRY_EXCEPTIONS"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def _retry(self, request: Request, reason: str | Exception, wait: float) -> Request | None:
        spider = self.crawler.spider
        assert spider is not None
        retry = get_retry_request(request, spider=spider, reason=reason,
                                  max_retry_times=request.meta.get("max_retry_times", self.max_times))
        if retry is not None and wait > 0:
            await asyncio.sleep(wait)
        return retry

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_retry") or response.status not in self.codes:
            return response
        asked = retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
        if asked is not None and asked > self.max_wait:
            log.info("%s asks to retry after %.0fs, more than %.0fs: not retried now",
                     request.url, asked, self.max_wait)
            return response
        wait = asked if asked is not None else backoff(request.meta.get("retry_times", 0))
        return await self._retry(request, response_status_message(response.status), wait) or response

    async def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if request.meta.get("dont_retry") or not isinstance(exception, self.exceptions):
            return None
        return await self._retry(request, exception, backoff(request.meta.get("retry_times", 0)))
