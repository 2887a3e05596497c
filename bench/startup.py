"""How long commands take to start: `veille --help`, `search`, `status`, `config check` against a bare Python.

    .venv/bin/python -m bench.startup                       # this checkout's code, 11 runs of each (a minute)
    .venv/bin/python -m bench.startup --before ../main      # and another checkout's, in the same run

Each command is the real `veille` console script, run as a new process on a small archive (--articles,
stored through storage.articles.store) with its config file; the code it runs is chosen by PYTHONPATH. The
runs of all commands are interleaved, so that a busy moment of the machine falls on all of them alike.
Wall time is measured around the process; CPU time (user + system) from resource.getrusage(RUSAGE_CHILDREN).
The raw baseline, measured in the same run, is `python -c 'import sqlite3'`: the least any command costs.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from storage import open_archive
from storage.articles import store

WORDS = ["cloud", "souverain", "données", "hébergement", "SecNumCloud", "État", "offre", "sécurité", "confiance",
         "administration", "ministère", "qualification", "stratégie", "européenne", "marché", "acteurs"]


def build(folder: Path, n: int) -> Path:
    """A config file and an archive of n articles next to it (made and migrated here, not by the runs)."""
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump({
        "storage": {"path": "veille.db"},
        "sources": [{"name": f"source{i}", "feed": f"http://127.0.0.1:8000/feed{i}.xml"} for i in range(5)],
        "topics": [{"name": "cloud-souverain", "keywords": ["cloud souverain", "SecNumCloud"], "chats": [-1001]},
                   {"name": "gaia-x", "keywords": ["Gaia-X"], "chats": [-1001]}],
    }), encoding="utf-8")
    db = open_archive(folder / "veille.db")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(n):
        text = " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(120)) + f" article{i}"
        url = f"http://127.0.0.1:8000/source{i % 5}/{i}"
        store(db, {"source": f"source{i % 5}", "url": url, "canonical_url": url, "guid": url,
                   "title": f"Article {i}: {WORDS[i % len(WORDS)]}", "text": text, "language": "fr",
                   "published": (start + timedelta(hours=i)).isoformat(), "full_text": True})
    db.close()
    return config


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of argv, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {result.stderr.strip()[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=11, help="runs of each command (the median is reported)")
    parser.add_argument("--articles", type=int, default=500, help="articles in the archive searched")
    parser.add_argument("--before", type=Path, help="another checkout to time too (e.g. main), as 'before'")
    args = parser.parse_args()
    veille = str(Path(sys.executable).parent / "veille")
    codes = {"this checkout": Path(__file__).resolve().parent.parent}
    if args.before:
        codes = {f"before ({args.before})": args.before.resolve(), **codes}
    with tempfile.TemporaryDirectory() as tmp:
        config = str(build(Path(tmp), args.articles))
        commands = {"`veille --help`": ["--help"],
                    "`veille search cloud`": ["search", "cloud", "--config", config],
                    "`veille status`": ["status", "--config", config],
                    "`veille config check`": ["config", "check", "--config", config]}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PYTHON"))}
        runs: list[tuple[str, list[str], dict[str, str]]] = [("`python -c 'import sqlite3'` (baseline)",
                                                              [sys.executable, "-c", "import sqlite3"], env)]
        for code, path in codes.items():
            runs += [(f"{name}, {code}" if args.before else name, [veille, *argv], {**env, "PYTHONPATH": str(path)})
                     for name, argv in commands.items()]
        load_before = os.getloadavg()[0]
        walls: dict[str, list[float]] = {name: [] for name, _, _ in runs}
        cpus: dict[str, list[float]] = {name: [] for name, _, _ in runs}
        for _ in range(args.runs):
            for name, argv, run_env in runs:
                wall, cpu = measure(argv, run_env)
                walls[name].append(wall)
                cpus[name].append(cpu)
    base_wall, base_cpu = statistics.median(walls[runs[0][0]]), statistics.median(cpus[runs[0][0]])
    print(f"## Start-up: median of {args.runs} runs of each command, interleaved; archive of {args.articles:,} "
          f"articles (load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)\n")
    print("| command | wall | CPU | CPU / baseline | CPU beyond the baseline |")
    print("|---|---|---|---|---|")
    for name, _, _ in runs:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"| {name} | {wall:.3f} s | {cpu:.3f} s | {cpu / base_cpu:.1f}× | {cpu - base_cpu:.3f} s |")
    print(f"\nBaseline: {base_wall:.3f} s wall, {base_cpu:.3f} s CPU. Goal: each command well under 0.5 s.")


if __name__ == "__main__":
    main()
