"""Benchmarks: scripts that print figures and ratios (`make bench` runs every module)."""
