"""A fleet of crawl workers: 1, 2 and 4 worker processes sharing one PostgreSQL archive and one Redis.

    .venv/bin/python -m bench.fleet                         # 240 sources × 3 articles on 48 sites (~5 min)
    .venv/bin/python -m bench.fleet --sources 120 --workers 1 2

A local world of feed sources on `--hosts` addresses of 127.0.0.0/8 (127.0.0.2, 127.0.0.3...), each answer
held `--latency` seconds, so that crawling waits on the network as it does on the real web. PostgreSQL and
Redis are the tests' own (tests/pg_server.py, tests/redis_server.py `running()`), a fresh database per run.
Each run gives every worker its share of the sources (source i to worker i mod N, as the per-source leases
share them) and starts the N workers at once, each the real `veille crawl` with `storage.url` and
`crawl.queue`, so the article dupefilter and the host slots in Redis are in play (2 requests at once per
site over all workers). Measured: wall time until the last worker ends, sources crawled per minute (a
round's worth of sources over that time), and each worker's CPU time and peak memory (wait4). The configs
and what each worker printed are kept in bench/results/fleet/.
"""

import argparse
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import yaml

from bench.scale import article_html, feed_xml
from tests import pg_server, redis_server

VEILLE = str(Path(sys.executable).parent / "veille")
KEPT = Path(__file__).with_name("results") / "fleet"  # each run's configs and worker logs (not committed)


def _handler(latency: float, articles: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            time.sleep(latency)
            kind, body = "text/plain", "User-agent: *\nAllow: /\n"
            base = f"http://{self.headers['Host']}"
            if self.path.startswith("/feed-"):
                source = int(self.path.removeprefix("/feed-").removesuffix(".xml"))
                kind, body = "application/rss+xml", feed_xml(base, source, articles, datetime.now(UTC))
            elif self.path.startswith("/a/"):
                source, number = (int(n) for n in self.path.removeprefix("/a/").removesuffix(".html").split("/"))
                kind, body = "text/html; charset=utf-8", article_html(source, number)
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def serve(hosts: int, latency: float, articles: int, answer: Connection) -> None:
    """Serve the world on 127.0.0.2... until killed (a process of its own); send back the sites' URLs."""
    urls = []
    for n in range(hosts):
        server = ThreadingHTTPServer((f"127.0.0.{2 + n}", 0), _handler(latency, articles))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        urls.append(f"http://127.0.0.{2 + n}:{server.server_port}")
    answer.send(urls)
    threading.Event().wait()


def config(path: Path, storage: str, queue: str, sources: list[dict[str, str]]) -> Path:
    data: dict[str, Any] = {
        "storage": {"url": storage},
        "crawl": {"interval": "1h", "timeout": "30s", "delay": "0s", "queue": queue},
        "sources": sources, "topics": []}
    path.write_text(yaml.safe_dump(data))
    return path


def run_workers(configs: list[Path]) -> tuple[float, list[tuple[float, int]]]:
    """Start every worker at once; the wall time until the last ends, and each one's CPU time (s) and peak
    RSS (KiB)."""
    started = time.monotonic()
    procs = [subprocess.Popen([VEILLE, "crawl", "--config", str(c)], stdout=c.with_suffix(".out").open("w"),
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL) for c in configs]
    usages = []
    for proc in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"a worker failed with exit {os.waitstatus_to_exitcode(status)}")
        usages.append((usage.ru_utime + usage.ru_stime, usage.ru_maxrss))
    return time.monotonic() - started, usages


def sources_ok(folder: Path) -> int:
    """Sources crawled without error, from each worker's last line ("crawl done in ...: N sources ok")."""
    said = " ".join(p.read_text() for p in folder.glob("worker-*.out"))
    return sum(int(n) for n in re.findall(r"crawl done in .*?: (\d+) sources ok", said))


def stored(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM articles").fetchone()
    return int(row[0]) if row else 0


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=240)
    parser.add_argument("--hosts", type=int, default=48)
    parser.add_argument("--articles", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()

    here, there = multiprocessing.Pipe()
    world = multiprocessing.Process(target=serve, args=(args.hosts, args.latency, args.articles, there),
                                    daemon=True)
    world.start()
    sites = here.recv()
    sources = [{"name": f"source-{s}", "feed": f"{sites[s % len(sites)]}/feed-{s}.xml"}
               for s in range(args.sources)]
    before = load()
    rows, rates = [], []
    with pg_server.running() as pg, redis_server.running() as redis:
        shutil.rmtree(KEPT, ignore_errors=True)
        for n in args.workers:
            storage = pg.url(pg.create())
            queue = redis.url(n)
            folder = KEPT / f"workers-{n}"
            folder.mkdir(parents=True)
            # the schema first, once: N workers at once would each try to migrate the new database
            run_workers([config(folder / "schema.yaml", storage, queue, [])])
            configs = [config(folder / f"worker-{w}.yaml", storage, queue, sources[w::n]) for w in range(n)]
            wall, usages = run_workers(configs)
            cpu = [c for c, _ in usages]
            rates.append(args.sources / wall * 60)
            rows.append(f"| {n} | {wall:.1f} s | {args.sources / wall * 60:,.0f} | "
                        f"{sum(cpu) / n:.1f} s ({min(cpu):.1f}–{max(cpu):.1f}) | "
                        f"{max(m for _, m in usages) / 1024:.0f} MiB | {sources_ok(folder)} | {stored(storage):,} |")
            print(f"{n} worker(s): {wall:.1f} s", file=sys.stderr, flush=True)
    world.kill()
    print(f"fleet: {args.sources} feed sources × {args.articles} articles on {args.hosts} local sites, "
          f"{args.latency * 1000:.0f} ms per answer, PostgreSQL + Redis on this machine, "
          f"{os.cpu_count()} cores (load average {before} before, {load()} after)\n")
    print("| crawl workers | wall time (one round) | sources/min | CPU per worker (min–max) | peak RSS per worker "
          "| sources ok | articles stored |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    for n, rate in zip(args.workers[1:], rates[1:], strict=True):
        print(f"{n} workers: ×{rate / rates[0]:.2f} the sources per minute of {args.workers[0]}")


if __name__ == "__main__":
    main()
