"""Benchmarks and profiles, run as modules from the repository root (``python -m benchmarks.bench_resolve``)
so that ``ml_data``, ``tests.support`` and the benchmarks' own helpers import from this checkout."""
