"""Benchmarks: ``bench/run``. Figures are ratios measured in one run on this machine."""
