"""CPU time of a process tree, read from /proc (Linux): for benchmarks that run a command with workers."""

import os
from pathlib import Path


def cpu_of_tree(root: int, seen: dict[int, float]) -> None:
    """Add the CPU seconds so far of `root` and its descendants to `seen` (pid → seconds)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    for pid, seconds in times.items():
        ancestor = pid
        while ancestor not in (root, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == root:
            seen[pid] = max(seen.get(pid, 0.0), seconds)


def peak_rss_kib(pid: int) -> int:
    """The peak resident memory of one process so far (VmHWM, KiB), 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def thread_cpu(pid: int, tid: int) -> float:
    """The CPU seconds so far of one thread of a process, 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
