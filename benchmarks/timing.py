"""Interleaved repeat timing shared by the benchmarks: contenders take turns, so a burst of
load from other jobs on a shared machine hits them alike."""
from __future__ import annotations

import dataclasses
import os
import statistics
import time
from typing import Callable, Mapping


@dataclasses.dataclass(frozen=True)
class Timings:
    seconds: tuple[float, ...]   # one per round, in round order

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.seconds), max(self.seconds)


def interleaved_timings(runs: Mapping[str, Callable[[], float | None]], rounds: int = 5,
                        warmup: int = 1, alternate: bool = False) -> dict[str, Timings]:
    """Times each contender once per round, in turns (in reverse order every other round when
    `alternate`, so none always runs after the same one). A run may return the seconds it
    measured itself (e.g. to the end of its last step); otherwise its wall time counts."""
    names = list(runs)
    durations: dict[str, list[float]] = {name: [] for name in runs}
    for index in range(warmup + rounds):
        for name in (names[::-1] if alternate and index % 2 else names):
            start = time.perf_counter()
            measured = runs[name]()
            if index >= warmup:
                durations[name].append(measured if measured is not None
                                       else time.perf_counter() - start)
    return {name: Timings(tuple(values)) for name, values in durations.items()}


def interleaved_median_seconds(runs: Mapping[str, Callable[[], object]], repeats: int = 5,
                               warmup: int = 1) -> dict[str, float]:
    """The median wall time of each contender over `repeats` interleaved rounds."""
    return {name: timings.median for name, timings in interleaved_timings(
        {name: _walltime(run) for name, run in runs.items()}, repeats, warmup).items()}


def load_average() -> str:
    return "load average " + " / ".join(f"{value:.1f}" for value in os.getloadavg())


def _walltime(run: Callable[[], object]) -> Callable[[], None]:
    return lambda: (run(), None)[1]
