"""`python -m bench` (`make bench`): every benchmark in its default, short size, one after the other."""

import subprocess
import sys

BENCHES = ["bench.matching", "bench.dedup", "bench.search"]

if __name__ == "__main__":
    for name in BENCHES:
        print(f"\n== {name}", flush=True)
        subprocess.run([sys.executable, "-m", name], check=True)
    print("\n(bench.soak is a 10-minute run of its own: python -m bench.soak)")
