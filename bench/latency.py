"""Alert latency of `veille run`: from the moment an item appears in a feed to the moment Telegram gets it.

    .venv/bin/python -m bench.latency                     # 20 items over 4 minutes, 30 s interval (~5 min)
    .venv/bin/python -m bench.latency --items 5 --minutes 1 --interval 10

The real `veille run` polls one local feed every `--interval` seconds, with a topic that matches every new
item and one chat; alerts go to a fake Bot API on 127.0.0.1 (tests/fakebot.py) that stamps each sendMessage.
The items appear at random moments (seeded). Each latency is split into the wait for the next fetch of the
feed (polling) and the time from that fetch to the alert (crawl, article page, storage, matching, dispatch).
The raw baseline, in the same run, is a bare loop that GETs the feed every interval and notes new items.
"""

import argparse
import math
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from bisect import bisect_left
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.fakebot import FakeBotAPI, _handler

WORDS = [
    "État", "hébergement", "données", "sensibles", "offre", "ministère", "contrat", "infrastructure", "réseau",
    "opérateur", "marché", "doctrine", "sécurité", "fournisseur", "région", "calcul", "stockage", "logiciel",
    "agence", "rapport", "sénat", "commission", "règlement", "attaque", "hôpital", "collectivité", "budget",
    "migration", "annonce", "partenariat", "usine", "puce", "modèle"
]
CHAT = -1001234567890
TITLE = re.compile(r"numéro (\d+)")


class Feed:
    """The feed the service polls: two old items, then new ones added at given moments."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[tuple[int, str, float]] = [(-2, "Archives du mois", time.time() - 7200),
                                                    (-1, "Archives de la semaine", time.time() - 3600)]
        self.appeared: dict[int, float] = {}
        self.fetches: list[float] = []

    def add(self, number: int, title: str) -> None:
        with self.lock:
            now = time.time()
            self.items.append((number, title, now))
            self.appeared[number] = now

    def xml(self, base: str, by_veille: bool) -> str:
        with self.lock:
            if by_veille:
                self.fetches.append(time.time())
            items = list(self.items)
        entries = "".join(
            f"<item><title>{title}</title><link>{base}/a/{number}</link><guid>{base}/a/{number}</guid>"
            f"<pubDate>{format_datetime(datetime.fromtimestamp(at, UTC))}</pubDate>"
            f"<description>{title}.</description></item>" for number, title, at in reversed(items))
        return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>bench</title>"
                f"{entries}</channel></rss>")

    def fetched_after(self, moment: float) -> float | None:
        """The first fetch of the feed by veille after `moment`."""
        with self.lock:
            at = bisect_left(self.fetches, moment)
            return self.fetches[at] if at < len(self.fetches) else None


def article_html(number: int, title: str) -> str:
    rng = random.Random(number)
    body = "".join(f"<p>{' '.join(rng.choices(WORDS, k=50))}.</p>" for _ in range(4))
    return f"<html lang='fr'><body><nav>Accueil</nav><article><h1>{title}</h1>{body}</article></body></html>"


def serve_feed(feed: Feed) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"  # type: ignore[index]
            if self.path == "/feed.xml":
                by_veille = (self.headers.get("User-Agent") or "").startswith("veille")
                body, kind = feed.xml(base, by_veille), "application/rss+xml"
            elif self.path.startswith("/a/"):
                number = int(self.path.split("/")[2])
                title = next((t for n, t, _ in feed.items if n == number), "")
                body, kind = article_html(number, title), "text/html; charset=utf-8"
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
    return server


class StampedBot(FakeBotAPI):
    """The fake Bot API, noting when each alert (by item number) reaches it."""

    received: dict[int, float]

    def answer(self, method: str, params: dict[str, Any], path: str = "") -> tuple[int, dict[str, Any] | str]:
        if method == "sendMessage":
            found = TITLE.search(str(params.get("text", "")))
            if found:
                self.received.setdefault(int(found.group(1)), time.time())
        return super().answer(method, params, path)


def serve_bot() -> StampedBot:
    bot = StampedBot()
    bot.received = {}
    bot.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(bot))
    bot.server.daemon_threads = True
    threading.Thread(target=bot.server.serve_forever, daemon=True).start()
    return bot


def bare_poller(url: str, interval: float, seen: dict[int, float], stop: threading.Event) -> None:
    """The raw baseline: GET the feed every interval, note when each new item is first seen."""
    while not stop.wait(0):
        started = time.monotonic()
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        now = time.time()
        for number in (int(n) for n in re.findall(r"/a/(\d+)</guid>", text)):
            seen.setdefault(number, now)
        stop.wait(max(interval - (time.monotonic() - started), 0))


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def summary(values: list[float]) -> str:
    return (f"{statistics.median(values):.1f} s | {percentile(values, 0.95):.1f} s | {max(values):.1f} s")


def schedule(rng: random.Random, items: int, seconds: float) -> Iterator[tuple[int, float]]:
    """When each item appears, in seconds from the start, in order."""
    yield from enumerate(sorted(rng.uniform(5, seconds) for _ in range(items)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=4, help="the items appear over this long")
    parser.add_argument("--interval", type=float, default=30)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    feed, bot = Feed(), serve_bot()
    server = serve_feed(feed)
    url = f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    baseline: dict[int, float] = {}
    stop = threading.Event()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(yaml.safe_dump({
            "storage": {"path": str(Path(tmp) / "latency.db")},
            "crawl": {"interval": f"{args.interval:g}s"},
            "sources": [{"name": "bench", "feed": url}],
            "topics": [{"name": "qualifiés", "keywords": ["SecNumCloud"], "chats": [CHAT]}],
        }, allow_unicode=True))
        env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
        env |= {"TELEGRAM_BOT_TOKEN": "123456:bench", "TELEGRAM_API_URL": f"{bot.url}/bot"}
        veille = str(Path(sys.executable).parent / "veille")
        log = Path(tmp) / "veille.log"
        with log.open("w") as stderr:
            proc = subprocess.Popen([veille, "run", "--config", str(config)], env=env,
                                    stdout=subprocess.DEVNULL, stderr=stderr)
        while not feed.fetches and proc.poll() is None:  # the service is up: its first crawl came
            time.sleep(0.1)
        poller = threading.Thread(target=bare_poller, args=(url, args.interval, baseline, stop), daemon=True)
        poller.start()
        started = time.monotonic()
        for number, offset in schedule(random.Random(args.seed), args.items, args.minutes * 60):
            time.sleep(max(started + offset - time.monotonic(), 0))
            feed.add(number, f"Une offre SecNumCloud, annonce numéro {number}")
        deadline = time.monotonic() + 2 * args.interval + 30
        while len(bot.received) < args.items and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        stop.set()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        elapsed = time.monotonic() - started
    server.shutdown()
    assert bot.server is not None
    bot.server.shutdown()

    got = sorted(set(bot.received) & set(feed.appeared))
    latency = [bot.received[n] - feed.appeared[n] for n in got]
    waits, after = [], []
    for n in got:
        fetch = feed.fetched_after(feed.appeared[n])
        if fetch is not None:
            waits.append(fetch - feed.appeared[n])
            after.append(bot.received[n] - fetch)
    raw = [baseline[n] - feed.appeared[n] for n in feed.appeared if n in baseline]
    print(f"latency: {args.items} items over {elapsed / 60:.1f} min, `veille run` polling one local feed every "
          f"{args.interval:g} s; alerts received {len(got)}/{args.items} "
          f"(load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)\n")
    if not latency:
        print("no alert received")
        raise SystemExit(1)
    p95 = percentile(latency, 0.95)
    print("| from the item's appearance to | median | p95 | max |")
    print("|---|---|---|---|")
    print(f"| veille: alert received by the Bot API | {summary(latency)} |")
    print(f"| veille: its next fetch of the feed (polling wait) | {summary(waits)} |")
    print(f"| veille: fetch → alert received (crawl, match, send) | {summary(after)} |")
    if raw:
        print(f"| raw: a bare loop GETting the feed every {args.interval:g} s sees it | {summary(raw)} |")
    print(f"\nbound of polling: {args.interval:g} s (the wait for the next crawl); "
          f"target p95 < {args.interval + 5:g} s (interval + 5 s): {'met' if p95 < args.interval + 5 else 'MISSED'}")
    if raw:
        print(f"ratio veille / raw: median ×{statistics.median(latency) / statistics.median(raw):.2f}, "
              f"p95 ×{p95 / percentile(raw, 0.95):.2f}")


if __name__ == "__main__":
    main()
