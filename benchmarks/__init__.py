"""Benchmarks: scripts that print figures and ratios (`make bench` runs every module).
Timings on a shared machine are noisy, so figures are medians of several repeats."""
