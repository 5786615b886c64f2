"""A folder of NumPy arrays keyed by content fingerprints, shared by the Trainer and the
FidEvaluator: the domain classifier the Trainer trains for snapshot selection is the one
the evaluator loads, and scheduled runs on unchanged data skip feature extraction (and
classifier training)."""
from __future__ import annotations

import hashlib
import io
import os

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf


def sha256_hex(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def image_digests(pixels: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """One content digest per image (and its label), as hex strings."""
    return np.array([
        sha256_hex(np.ascontiguousarray(image).tobytes(),
                   b"" if labels is None else str(int(labels[i])).encode())
        for i, image in enumerate(pixels)], dtype="U64")


def digests_fingerprint(image_shape: tuple[int, ...], digests: np.ndarray) -> str:
    """Identifies a set of images by their digests, independently of their order."""
    return sha256_hex(str(tuple(image_shape)).encode(), "".join(sorted(digests)).encode())


def pixels_fingerprint(pixels: np.ndarray) -> str:
    """Identifies a set of images independently of its order."""
    return digests_fingerprint(pixels.shape[1:], image_digests(pixels))


class FidCache:
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
