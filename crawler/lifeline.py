"""Extraction processes die with the process that started them, whatever killed it (kill -9 included).

The forkserver imports crawler.forkserver first (its preload list), and so dies with the service; each worker, forked
by the forkserver, calls `die_with_parent` as it starts. Linux only (prctl); elsewhere a no-op.
"""

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Have the kernel kill this process the moment its parent dies; exit at once if it already has."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent or parent == 1:  # the parent died before the call
        os._exit(1)
