"""`python -m bench` (`make bench`): every benchmark at its default size, figures kept in bench/results.md.

    python -m bench                  all of them (about 20 minutes on 2 cores)
    python -m bench crawl search     only these; the other sections of results.md are kept as they were
    python -m bench extraction --pages DIR   options after the names go to those benchmarks

Each benchmark runs as its own process and prints its own report (figures and the ratio to its raw baseline,
measured in the same run). Its output goes to the terminal as it comes and, once it ends, into its section of
bench/results.md, headed with the date and the machine it ran on. bench.soak (a 10-minute service run),
bench.postgres and bench.fleet are only run when named.
"""

import os
import platform
import re
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

DEFAULT = ["crawl", "stages", "scale", "latency", "matching", "dedup", "search", "startup", "extraction"]
ON_REQUEST = ["postgres", "soak", "fleet"]
RESULTS = Path(__file__).with_name("results.md")
HEADER = "# Benchmark results\n\nWritten by `make bench` (`python -m bench`); each section by its own last run.\n"


def machine() -> str:
    """One line on the machine: CPU model, cores, memory, Python and SQLite versions."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        cpu = model.group(1).strip() if model else cpu
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total = re.search(r"^MemTotal:\s*(\d+) kB", meminfo.read_text(), re.M)
        memory = f", {int(total.group(1)) / 1024 ** 2:.0f} GiB" if total else ""
    return (f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")


def run(name: str, options: list[str]) -> tuple[str, bool]:
    """Run bench.NAME, echo its output, and return its results.md section and whether it succeeded."""
    print(f"\n== bench.{name}", flush=True)
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-u", "-m", f"bench.{name}", *options], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    ok = proc.wait() == 0
    took = time.monotonic() - started
    status = "" if ok else f" — FAILED (exit {proc.returncode})"
    section = (f"## bench.{name}\n\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {took:.0f} s{status}. "
               f"Machine: {machine()}.\n\n```text\n{''.join(lines).rstrip()}\n```\n")
    return section, ok


def sections(text: str) -> dict[str, str]:
    """The `## bench.NAME` sections of results.md, by name."""
    found = {}
    for part in re.split(r"^(?=## bench\.)", text, flags=re.M)[1:]:
        found[part.split()[1].removeprefix("bench.")] = part.rstrip() + "\n"
    return found


def main(args: list[str]) -> int:
    first_option = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
    names, options = args[:first_option], args[first_option:]
    unknown = [n for n in names if n not in DEFAULT + ON_REQUEST]
    if unknown:
        print(f"unknown benchmark: {', '.join(unknown)} (known: {', '.join(DEFAULT + ON_REQUEST)})", file=sys.stderr)
        return 2
    kept = sections(RESULTS.read_text()) if RESULTS.exists() else {}
    failed = []
    for name in names or DEFAULT:
        kept[name], ok = run(name, options)
        RESULTS.write_text(HEADER + "".join(f"\n{kept[n]}" for n in DEFAULT + ON_REQUEST if n in kept))
        if not ok:
            failed.append(name)
    print(f"\nfigures written to {RESULTS}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
