"""Repeat-and-take-the-median timing shared by the benchmarks."""
from __future__ import annotations

import statistics
import time
from typing import Callable, Mapping


def median_seconds(run: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    return interleaved_median_seconds({"run": run}, repeats, warmup)["run"]


def interleaved_median_seconds(runs: Mapping[str, Callable[[], object]], repeats: int = 5,
                               warmup: int = 1) -> dict[str, float]:
    """Like `median_seconds` for several contenders, taking turns each repeat, so a burst of
    load from other jobs on a shared machine hits them alike."""
    durations: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(warmup + repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            if repeat >= warmup:
                durations[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in durations.items()}
