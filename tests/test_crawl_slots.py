"""Many sources in one round: only CONCURRENT_SOURCES crawls run at once, and every source gets its turn."""

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Article, article_page, distinct_text, recent, rss, write_config

SOURCES = 6
# The crawl, in a process of its own (one reactor per process), with two slots instead of the default.
ROUND = """
import json, sys
from pathlib import Path
from crawler import runner
runner.CONCURRENT_SOURCES = 2
from veille.config import load
from veille.loop import run
from veille.service import open_for_crawl
config = load(Path(sys.argv[1]))
archive = open_for_crawl(config)
reports = run(lambda: runner.crawl_all(config.sources, config.crawl, archive))
print(json.dumps({r.source: [r.new, r.error] for r in reports}))
"""


class Feeds:
    """Feeds that each take a while to answer, counting how many are being fetched at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


@pytest.fixture
def slow_feeds() -> Iterator[tuple[str, Feeds]]:
    feeds = Feeds()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            number = self.path.rsplit("/", 1)[-1]
            article = Article(f"a{number}", f"Article {number}", distinct_text(int(number or 0)), recent())
            if self.path.startswith("/feed/"):
                feeds.enter()
                time.sleep(0.5)  # long enough for every crawl let loose at once to be fetching together
                feeds.leave()
                body, kind = rss(base, [article]), "application/rss+xml"
            elif self.path.startswith("/articles/"):
                body, kind = article_page(article), "text/html; charset=utf-8"
            else:
                body, kind = "User-agent: *\nAllow: /\n", "text/plain"
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", feeds
    server.shutdown()
    server.server_close()


def test_a_round_runs_at_most_the_slots_at_once_and_crawls_every_source(
        tmp_path: Path, slow_feeds: tuple[str, Feeds]) -> None:
    base, feeds = slow_feeds
    config = write_config(tmp_path / "config.yaml",
                          [{"name": f"s{i}", "feed": f"{base}/feed/{i}"} for i in range(SOURCES)])
    done = subprocess.run([sys.executable, "-c", ROUND, str(config)], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    reports = json.loads(done.stdout.strip().splitlines()[-1])
    assert reports == {f"s{i}": [1, None] for i in range(SOURCES)}
    assert feeds.most <= 2
