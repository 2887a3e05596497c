"""Crawl workers sharing one Redis (crawl.queue): each source's lease is taken by one worker per interval."""

import asyncio
from pathlib import Path

import pytest

from crawler.config import CrawlConfig
from crawler.shared import Leases
from veille.config import ConfigError, load


def test_a_queue_that_is_not_redis_is_refused_without_its_password(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("crawl:\n  queue: postgresql://veille:secret@db/veille\nsources: []\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.problems == ["crawl.queue: 'db/veille' is not a Redis URL (redis://host:port/db)"]
    assert CrawlConfig(queue="redis://127.0.0.1:6379/0").queue == "redis://127.0.0.1:6379/0"


def test_one_worker_takes_a_source_per_interval(redis_url: str) -> None:
    async def main() -> tuple[list[bool], list[bool], dict[str, str]]:
        first, second = Leases(redis_url), Leases(redis_url)
        second.me = "other:1"
        try:
            now = [await first.take("source:cnil", 60), await second.take("source:cnil", 60),
                   await second.take("source:anssi", 60)]
            held = await first.holders()
            # a short interval: the lease runs out before it does, and the other worker takes the source then
            short = [await first.take("source:dinum", 0.2)]
            await asyncio.sleep(0.3)
            short.append(await second.take("source:dinum", 0.2))
            return now, short, held
        finally:
            await first.close()
            await second.close()

    now, short, held = asyncio.run(main())
    assert now == [True, False, True]
    assert short == [True, True]
    assert held["source:anssi"] == "other:1"
    assert held["source:cnil"].endswith(f":{__import__('os').getpid()}")
