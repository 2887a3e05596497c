"""Benchmarks: each module runnable as `python -m bench.<name>`, printing a small table."""
