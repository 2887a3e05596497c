"""A crawl shared by several workers through Redis (`crawl.queue`): each source crawled once per interval.

    worker A ─► Leases.take("source:cnil", 15 min) ─► SET NX PX: A crawls cnil, the lease held 15 min
    worker B ─► Leases.take("source:cnil", 15 min) ─► taken: B skips cnil this round
    worker A killed ─► the lease runs out; the next worker whose schedule fires takes cnil

Every worker schedules every source; the first whose schedule fires in an interval takes the source's lease and
crawls it, the others skip it. A lease is never released early: it says "crawled this interval", not "being
crawled", so a source is due once per interval however many workers there are. It runs out a little before
the interval does (MARGIN), so that the worker that holds it takes it again at its next run.
"""

import os
import socket
from typing import Any

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
