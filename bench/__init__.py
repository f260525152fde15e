"""Benchmarks: resultstore vs Celery's built-in backends vs the raw client, same run.

Run with ``nox -s bench`` (starts its own servers) or ``python -m bench``.
Not part of the pass/fail suite.
"""
