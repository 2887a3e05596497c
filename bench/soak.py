"""Soak run of `veille run`: many local sources on a short interval for minutes.

Reports rounds completed per source, schedule drift (gap between two fetches of a feed minus the interval),
and the service's resident memory after the first round and at the end. Everything is served on 127.0.0.1.

    python -m bench.soak [--sources 200] [--interval 10] [--minutes 10]
"""

import argparse
import itertools
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

FETCHES: dict[str, list[float]] = defaultdict(list)


def feed_xml(base: str, source: int, now: datetime) -> str:
    items = "".join(
        f"<item><title>Article {source}-{i} sur le cloud souverain</title><link>{base}/a/{source}/{i}</link>"
        f"<guid>{source}-{i}</guid><pubDate>{format_datetime(now - timedelta(hours=i))}</pubDate>"
        f"<description>Résumé {i}</description></item>" for i in range(5))
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>s{source}</title>{items}</channel></rss>"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        base = f"http://127.0.0.1:{self.server.server_address[1]}"  # type: ignore[index]
        if self.path.startswith("/feed/"):
            source = int(self.path.split("/")[2])
            FETCHES[self.path].append(time.monotonic())
            body, kind = feed_xml(base, source, datetime.now(UTC)), "application/rss+xml"
        elif self.path.startswith("/a/"):
            words = " ".join(["Le gouvernement publie une doctrine du cloud souverain."] * 20)
            body, kind = f"<html lang='fr'><body><article><p>{words}</p></article></body></html>", "text/html"
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


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(yaml.safe_dump({
            "storage": {"path": str(Path(tmp) / "soak.db")},
            "crawl": {"interval": f"{args.interval}s", "timeout": "10s", "delay": "0s"},
            "sources": [{"name": f"s{i}", "feed": f"{base}/feed/{i}"} for i in range(args.sources)],
            "topics": [{"name": "cloud", "keywords": ["cloud souverain"], "chats": [1]}],
        }))
        env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
        veille = str(Path(sys.executable).parent / "veille")
        proc = subprocess.Popen([veille, "run", "--config", str(config)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.monotonic()
        time.sleep(args.interval * 2)
        rss_start = rss_kib(proc.pid)
        time.sleep(max(args.minutes * 60 - args.interval * 2, 0))
        rss_end = rss_kib(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        elapsed = time.monotonic() - started
    server.shutdown()

    rounds = [len(times) for times in FETCHES.values()]
    gaps = [b - a - args.interval for times in FETCHES.values() for a, b in itertools.pairwise(times)]
    expected = elapsed / args.interval
    print(f"soak: {args.sources} sources every {args.interval:.0f}s for {elapsed / 60:.1f} min")
    print(f"  rounds per source: min {min(rounds)}, median {statistics.median(rounds):.0f}, max {max(rounds)}"
          f" (ideal {expected:.0f}); sources crawled {len(rounds)}/{args.sources}")
    gaps.sort()
    print(f"  drift (gap - interval): median {statistics.median(gaps):+.2f}s, "
          f"p95 {gaps[int(len(gaps) * 0.95)]:+.2f}s, max {gaps[-1]:+.2f}s")
    print(f"  resident memory: {rss_start / 1024:.0f} MiB after the first rounds, {rss_end / 1024:.0f} MiB at the end")


if __name__ == "__main__":
    main()
