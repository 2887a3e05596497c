"""A crawl shared by several workers through Redis (`crawl.queue`): each source crawled once per interval.

    worker A ─► Leases.take("source:cnil", 15 min) ─► SET NX PX: A crawls cnil, the lease held 15 min
    worker B ─► Leases.take("source:cnil", 15 min) ─► taken: B skips cnil this round
    worker A killed ─► the lease runs out; the next worker whose schedule fires takes cnil

Every worker schedules every source; the first whose schedule fires in an interval takes the source's lease and
crawls it, the others skip it. A lease is never released early: it says "crawled this interval", not "being
crawled", so a source is due once per interval however many workers there are. It runs out a little before
the interval does (MARGIN), so that the worker that holds it takes it again at its next run.
"""

import asyncio
import itertools
import os
import socket
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from scrapy.utils.request import fingerprint

from crawler.budget import Stopped
from crawler.run import Run

MARGIN = 0.05  # a lease lasts the interval less this share of it (at most MAX_MARGIN seconds)
MAX_MARGIN = 30.0


def holder() -> str:
    """This worker's name in Redis: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Leases:
    """Leases in one Redis, named under `prefix`: who crawls what this interval."""

    def __init__(self, url: str, *, prefix: str = "veille:lease:") -> None:
        import redis.asyncio

        self.client: Any = redis.asyncio.Redis.from_url(url)
        self.prefix = prefix
        self.me = holder()

    async def take(self, name: str, seconds: float) -> bool:
        """True if this worker now holds `name` for about `seconds` (then it does the work), False if another
        worker holds it (then it does not)."""
        ttl = seconds - min(seconds * MARGIN, MAX_MARGIN)
        taken = await self.client.set(self.prefix + name, self.me, nx=True, px=max(1, int(ttl * 1000)))
        return bool(taken)

    async def holders(self) -> dict[str, str]:
        """Every lease held now, by name: which worker holds it (for `veille status`)."""
        found = {}
        async for key in self.client.scan_iter(match=self.prefix + "*", count=500):
            value = await self.client.get(key)
            if value is not None:
                found[key.decode().removeprefix(self.prefix)] = value.decode()
        return found

    async def close(self) -> None:
        await self.client.aclose()


# --- the crawl itself shared: article pages fetched once, politeness per host over every worker ----------------
#
#     request ─► SharedDupeFilterMiddleware (70): an article page another worker is fetching ─► SeenElsewhere
#             ─► ... robots, retries ... ─► HostSlotMiddleware (900): wait for one of the host's slots in Redis
#             ─► download ─► slot given back (response or failure); a failed article page forgotten again
#
# scrapy-redis's scheduler is not used: our requests carry their source's Run and closures as callbacks, which
# cannot be pickled into a shared queue; leases share the sources instead, and claims the article pages.

SEEN_PREFIX = "veille:fetching:"  # a claim per article page (its request fingerprint), for the length of its fetch
CLAIM_MARGIN = 60.0  # seconds a claim outlives its tries' timeouts: extraction and storage
SLOT_PREFIX = "veille:host:"
SLOT_MARGIN = 5.0  # a slot outlives its request's timeout by this much, then frees itself (a killed worker's)
SLOT_POLL = 0.05  # seconds between two tries at a full host
SLOT_CONNECTIONS = 16  # a worker's connections to Redis for its host slots

# KEYS: the host's slots (a sorted set: token -> expiry, ms), its next start; ARGV: limit, ttl ms, delay ms, token
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local wait = tonumber(redis.call('GET', KEYS[2]) or '0') - now
if wait > 0 then return wait end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return -1 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[4])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[2], now + tonumber(ARGV[3]), 'PX', tonumber(ARGV[3])) end
return 0
"""


class SeenElsewhere(Stopped):
    """Another worker is fetching this article page: it is left to that worker. A Stopped,
    so the spider keeps no feed-text copy of it."""


def _redis_url(crawler: Crawler) -> str:
    url = crawler.settings.get("VEILLE_QUEUE")
    if not url:
        raise NotConfigured("no crawl.queue")
    return str(url)


class SharedDupeFilterMiddleware:
    """An article page fetched once across workers: a claim on it in Redis for the length of its fetch.

    Only article pages (meta `entry`) of runs that store are claimed, once per request (not its retries and
    redirects); feeds, listings, sitemaps, robots.txt and watched pages are always fetched. A page another
    worker has claimed is left to it (SeenElsewhere); once stored, the archive's own check keeps it from being
    fetched again. A claim lasts the fetch's longest (every try, then extraction and storage) and is given back
    when the fetch fails, so that a page whose worker failed or was killed is fetched at its next crawl.
    (scrapy-redis's RFPDupeFilter marks a page seen for good when it is asked: a worker killed mid-fetch would
    lose the article for as long as the set lives.)
    """

    def __init__(self, url: str) -> None:
        import redis

        self.server = redis.Redis.from_url(url)
        self.me = holder()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "SharedDupeFilterMiddleware":
        return cls(_redis_url(crawler))

    async def process_request(self, request: Request) -> None:
        run = request.meta.get("run")
        if "entry" not in request.meta or "shared_seen" in request.meta or (isinstance(run, Run) and run.dry_run):
            return  # a dry run stores nothing: it must not keep the page from the worker that would
        key = SEEN_PREFIX + fingerprint(request).hex()
        tries = 1 + int(request.meta.get("max_retry_times", 2))
        longest = tries * float(request.meta.get("download_timeout", 30)) + CLAIM_MARGIN
        if not await asyncio.to_thread(self.server.set, key, self.me, nx=True, px=int(longest * 1000)):
            raise SeenElsewhere(f"{request.url} is being fetched by another worker")
        request.meta["shared_seen"] = key

    async def _forget(self, request: Request) -> None:
        key = request.meta.pop("shared_seen", None)
        if key is not None:
            await asyncio.to_thread(self.server.delete, key)

    async def process_response(self, request: Request, response: Response) -> Response:
        if not 200 <= response.status < 300:
            await self._forget(request)
        return response

    async def process_exception(self, request: Request, exception: Exception) -> None:
        await self._forget(request)


class HostSlots:
    """A host's slots in Redis, shared by every worker: at most `limit` requests at once, starts `delay` apart.
    A slot frees itself after `ttl` seconds, so a killed worker's slots do not block the host for good."""

    def __init__(self, url: str) -> None:
        import redis.asyncio

        # hundreds of requests may wait on their hosts at once: they queue for a connection, never fail for one
        pool = redis.asyncio.BlockingConnectionPool.from_url(url, max_connections=SLOT_CONNECTIONS, timeout=None)
        self.client: Any = redis.asyncio.Redis.from_pool(pool)
        self.script = self.client.register_script(_ACQUIRE)
        self.me = holder()
        self._tokens = itertools.count()

    async def acquire(self, host: str, limit: int, delay: float, ttl: float) -> str:
        """Wait for a slot of `host`; its token, to give back with release()."""
        token = f"{self.me}:{next(self._tokens)}"
        keys = [SLOT_PREFIX + host, SLOT_PREFIX + host + ":next"]
        while (wait := await self.script(keys=keys, args=[limit, int(ttl * 1000), int(delay * 1000), token])) != 0:
            await asyncio.sleep(SLOT_POLL if wait < 0 else wait / 1000)
        return token

    async def release(self, host: str, token: str) -> None:
        await self.client.zrem(SLOT_PREFIX + host, token)

    async def close(self) -> None:
        await self.client.aclose()


class HostSlotMiddleware:
    """`crawl.concurrency_per_domain` and `crawl.delay` per host over every worker sharing the Redis: each
    request waits for one of its host's slots (HostSlots) just before its download, and gives it back after."""

    def __init__(self, crawler: Crawler, slots: HostSlots) -> None:
        self.crawler = crawler
        self.slots = slots
        self.limit = crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        self.delay = crawler.settings.getfloat("DOWNLOAD_DELAY")
        self.timeout = crawler.settings.getfloat("DOWNLOAD_TIMEOUT")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "HostSlotMiddleware":
        return cls(crawler, HostSlots(_redis_url(crawler)))

    def _delay(self, host: str) -> float:
        """The host's delay: a source's own `delay:` if longer (set on the downloader by crawler.engine)."""
        engine = self.crawler.engine
        own = engine.downloader.per_slot_settings.get(host, {}) if engine is not None else {}
        return max(self.delay, float(own.get("delay", 0.0)))

    async def process_request(self, request: Request) -> None:
        host = urlsplit(request.url).hostname or ""
        ttl = float(request.meta.get("download_timeout", self.timeout)) + SLOT_MARGIN
        request.meta["host_slot"] = (host, await self.slots.acquire(host, self.limit, self._delay(host), ttl))

    async def _release(self, request: Request) -> None:
        held = request.meta.pop("host_slot", None)
        if held is not None:
            await self.slots.release(*held)

    async def process_response(self, request: Request, response: Response) -> Response:
        await self._release(request)
        return response

    async def process_exception(self, request: Request, exception: Exception) -> None:
        await self._release(request)
