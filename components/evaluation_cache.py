"""A folder of NumPy arrays keyed by content fingerprints, so scheduled runs on
unchanged data skip feature extraction (and classifier training)."""
from __future__ import annotations

import io
import os

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf


class EvaluationCache:
    """`<directory>/<name>.npz`, readable and writable through tf.io.gfile (local or bucket)."""

    def __init__(self, directory: str):
        self.directory = directory

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, f"{name}.npz")

    def load(self, name: str) -> dict[str, np.ndarray] | None:
        path = self._path(name)
        if not tf.io.gfile.exists(path):
            return None
        with tf.io.gfile.GFile(path, "rb") as source:
            with np.load(io.BytesIO(source.read())) as stored:
                return {key: stored[key] for key in stored.files}

    def save(self, name: str, **arrays) -> None:
        """Writes a temporary file and renames it, so readers never see a partial entry."""
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        tf.io.gfile.makedirs(self.directory)
        temporary = self._path(name) + f".tmp-{os.getpid()}"
        with tf.io.gfile.GFile(temporary, "wb") as out:
            out.write(buffer.getvalue())
        tf.io.gfile.rename(temporary, self._path(name), overwrite=True)
