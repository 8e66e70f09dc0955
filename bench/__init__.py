"""Benchmarks (``make bench``): figures for BENCHMARKS.md, never timed tests."""
