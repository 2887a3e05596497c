"""Sources that fail (time out, reset the connection, answer 5xx or 429), all in one real `veille crawl`.

One crawl serves every fault next to a good source; each test reads one outcome: the failing source's
error, as `veille status` shows it, retries as configured, and the good source unaffected. Covered in
test_crawl_sources: a 503 with a short Retry-After then success, a Retry-After above the ceiling, a page
that hangs past the timeout, and a failing source backing off.
"""

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from pytest_httpserver import HTTPServer
from werkzeug import Response

from storage import health
from tests.conftest import SOVEREIGN, UNRELATED, Article, Site, article_page, recent, rss, write_config
from tests.test_crawl_sources import crawl, paths, status


class ResettingServer:
    """A TCP server on 127.0.0.1 that reads each request and answers with a reset (RST), noting its path;
    except for the paths of `answers`, answered with that body (an RSS feed)."""

    def __init__(self, answers: dict[str, str] | None = None) -> None:
        self.answers = answers or {}
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.paths: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            conn.settimeout(2)
            with contextlib.suppress(OSError):
                request_line = conn.recv(65536).split(b"\r\n", 1)[0].split()
                path = request_line[1].decode() if len(request_line) > 1 else ""
                self.paths.append(path)
                if path in self.answers:
                    body = self.answers[path].encode()
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                    conn.close()
                    continue
            # linger on, zero seconds: close() sends RST instead of FIN
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@dataclass
class Faults:
    """The outcome of the one crawl: the archive, the servers and what the crawl logged."""

    tmp: Path
    server: HTTPServer
    site: Site
    resetting: ResettingServer
    stderr: str
    config: Path
    slow_requests: int

    def health(self) -> dict[str, dict[str, Any]]:
        return health.all_sources(sqlite_utils.Database(self.tmp / "veille.db"))

    def stored(self) -> dict[str, dict[str, Any]]:
        return {row["url"]: row for row in sqlite_utils.Database(self.tmp / "veille.db").query(
            "SELECT * FROM articles")}

    def requests(self, path: str) -> int:
        return paths(self.server).count(path)


RESET_PAGE = Article("remise-a-zero", "Une page qui coupe la connexion", UNRELATED.body, recent(1),
                     summary="Le résumé de la page coupée")


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faults]:
    tmp = tmp_path_factory.mktemp("faults")
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    resetting = ResettingServer()
    site = Site(server)
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    server.expect_request("/rss.xml").respond_with_data(rss(site.url, [SOVEREIGN]), content_type="application/rss+xml")
    # a feed whose article page, on the same server, resets the connection
    resetting.answers["/rss.xml"] = (
        f"<rss version='2.0'><channel><title>t</title><item><title>{RESET_PAGE.title}</title>"
        f"<link>http://127.0.0.1:{resetting.port}/{RESET_PAGE.slug}</link>"
        f"<description>{RESET_PAGE.summary}</description></item></channel></rss>")
    site.page(f"/articles/{SOVEREIGN.slug}", article_page(SOVEREIGN))
    slow: list[float] = []  # counted on arrival: the server's own log has them only once answered
    server.expect_request("/slow.xml").respond_with_handler(
        lambda _: slow.append(time.monotonic()) or time.sleep(3) or Response("late"))
    server.expect_request("/error.xml").respond_with_data("boom", status=500)
    answers = iter([Response("slow down", status=429, headers={"Retry-After": "1"})])
    later = rss(site.url, [UNRELATED])
    server.expect_request("/busy.xml").respond_with_handler(
        lambda _: next(answers, None) or Response(later, content_type="application/rss+xml"))
    site.page(f"/articles/{UNRELATED.slug}", article_page(UNRELATED))
    server.expect_request("/closed.xml").respond_with_data("come back tomorrow", status=429,
                                                           headers={"Retry-After": "86400"})
    config = write_config(tmp / "config.yaml", [
        {"name": "good", "feed": f"{site.url}/rss.xml"},
        {"name": "slow", "feed": f"{site.url}/slow.xml"},
        {"name": "reset", "feed": f"http://127.0.0.1:{resetting.port}/feed.xml"},
        {"name": "reset-page", "feed": f"http://127.0.0.1:{resetting.port}/rss.xml"},
        {"name": "error", "feed": f"{site.url}/error.xml"},
        {"name": "busy", "feed": f"{site.url}/busy.xml"},
        {"name": "closed", "feed": f"{site.url}/closed.xml"}],
        crawl={"timeout": "1s", "delay": "0s", "retries": 1, "max_retry_wait": "10s"})
    stderr = crawl(config)
    yield Faults(tmp, server, site, resetting, stderr, config, len(slow))
    resetting.close()
    server.clear()
    server.stop()


def test_the_good_source_is_unaffected_by_the_failing_ones(faults: Faults) -> None:
    rows = faults.stored()
    assert rows[f"{faults.site.url}/articles/{SOVEREIGN.slug}?utm_source=rss"]["full_text"] == 1
    assert faults.health()["good"]["last_error"] is None


def test_a_source_that_times_out_is_retried_then_its_error(faults: Faults) -> None:
    assert faults.slow_requests == 2, "one try and one retry"
    error = faults.health()["slow"]["last_error"]
    assert "TimeoutError" in error and "took longer than 1.0 seconds" in error, error
    assert "source slow: " in faults.stderr


def test_a_source_that_resets_the_connection_is_retried_then_its_error(faults: Faults) -> None:
    error = faults.health()["reset"]["last_error"]
    assert error == "DownloadFailedError: ConnectionLost: Connection to the other side was lost in a non-clean fashion."
    assert faults.resetting.paths.count("/feed.xml") == 2, "one try and one retry"
    assert "source reset: " in faults.stderr


def test_an_article_page_that_resets_the_connection_keeps_the_feed_text(faults: Faults) -> None:
    row = faults.stored()[f"http://127.0.0.1:{faults.resetting.port}/{RESET_PAGE.slug}"]
    assert (row["full_text"], row["text"]) == (0, RESET_PAGE.summary)
    assert faults.resetting.paths.count(f"/{RESET_PAGE.slug}") == 2, "one try and one retry"
    assert f"article page http://127.0.0.1:{faults.resetting.port}/{RESET_PAGE.slug}: " in faults.stderr


def test_a_source_answering_5xx_is_retried_then_its_error(faults: Faults) -> None:
    assert faults.requests("/error.xml") == 2
    assert faults.health()["error"]["last_error"] == f"HTTP 500 from {faults.site.url}/error.xml"


def test_429_with_retry_after_is_waited_for_then_read(faults: Faults) -> None:
    assert faults.requests("/busy.xml") == 2
    rows = faults.stored()
    assert rows[f"{faults.site.url}/articles/{UNRELATED.slug}?utm_source=rss"]["full_text"] == 1
    assert faults.health()["busy"]["last_error"] is None


def test_429_asking_for_longer_than_max_retry_wait_is_tried_next_crawl(faults: Faults) -> None:
    assert faults.requests("/closed.xml") == 1
    sources = status(faults.config)
    assert sources["closed"]["last_error"] == f"HTTP 429 from {faults.site.url}/closed.xml"
    assert sources["closed"]["next_attempt"], "backing off until a later crawl"


def test_a_response_whose_headers_never_end_is_cut_at_the_header_limit(tmp_path: Path) -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    port, sent = sock.getsockname()[1], [0]

    def endless_headers() -> None:
        conn, _ = sock.accept()
        with conn, contextlib.suppress(OSError):
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            line = b"X-Padding: " + b"x" * 1000 + b"\r\n"
            while sent[0] < 200_000_000:  # without a limit, 200 MB of headers (then the test's own end)
                conn.sendall(line * 64)
                sent[0] += len(line) * 64

    thread = threading.Thread(target=endless_headers, daemon=True)
    thread.start()
    try:
        config = write_config(tmp_path / "config.yaml", [{"name": "bavard", "feed": f"http://127.0.0.1:{port}/rss.xml",
                                                          "obey_robots": False}],
                              crawl={"timeout": "30s", "delay": "0s", "retries": 0})
        crawl(config)
        thread.join(timeout=30)
    finally:
        sock.close()
    error = status(config)["bavard"]["last_error"]
    assert "HeadersTooLargeError: its headers passed 200 lines or 64 KiB" in error, error
    assert sent[0] < 20_000_000, f"{sent[0]:,} bytes of headers were sent"
