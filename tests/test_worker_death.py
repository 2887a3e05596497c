"""The extraction pool's forkserver and workers die with the process that started them, even by kill -9."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = """
import os, signal, time
from crawler import workers
if __name__ == "__main__":
    pool = workers.pool()
    worker, server = pool.schedule(os.getpid).result(), pool.schedule(os.getppid).result()
    pool.schedule(time.sleep, args=(60,))  # a worker busy for a minute
    time.sleep(0.3)
    print(worker, server, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status  # a zombie is dead, only not yet reaped


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG) is Linux only")
def test_workers_and_forkserver_die_with_a_killed_service(tmp_path: Path) -> None:
    script = tmp_path / "service.py"
    script.write_text(SCRIPT)
    root = Path(__file__).parent.parent
    result = subprocess.run([sys.executable, str(script)], cwd=root, capture_output=True, text=True, timeout=60,
                            env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    pids = [int(p) for p in result.stdout.split()]
    assert len(pids) == 2, result.stderr
    deadline = time.monotonic() + 20  # a bound for a loaded machine; without the lifeline they live a minute
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in pids if alive(p)], "extraction processes outlived the killed service"
