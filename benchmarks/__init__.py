"""Benchmarks: scripts that print figures and ratios (`make bench`). Timings on a
shared machine are noisy, so each figure is the median of several repeats."""
