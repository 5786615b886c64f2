"""The terminal progress bars of ingest and training: one style, on standard output.

The local runner keeps standard output for the terminal (logs go to a file);
when it is not a terminal (CI, a file, a Kubeflow pod's log) a bar updates at
most every 30 s, so the output stays short.
"""
from __future__ import annotations

import sys

import tqdm


def progress_bar(description: str, total: int | None, initial: int = 0) -> tqdm.tqdm:
    """A bar counting images: rate in images/s and, with a `total`, the time left."""
    interactive = sys.stdout.isatty()
    return tqdm.tqdm(total=total, initial=initial, desc=description, unit="img",
                     unit_scale=True, file=sys.stdout, dynamic_ncols=interactive,
                     mininterval=0.5 if interactive else 30.0)
