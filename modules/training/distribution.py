"""Which tf.distribute strategy the Trainer runs under, from what this machine can see."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Iterator

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import tensorflow as tf
from absl import logging


def cluster_workers() -> int:
    """Workers named by TF_CONFIG (set by Kubeflow/Vertex for multi-worker jobs), else 0."""
    cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def distribution_strategy() -> tf.distribute.Strategy:
    """MultiWorkerMirrored when TF_CONFIG names several workers, Mirrored over several
    GPUs, else the default (one device)."""
    if cluster_workers() > 1:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    elif len(tf.config.list_logical_devices("GPU")) > 1:
        strategy = tf.distribute.MirroredStrategy()
    else:
        return tf.distribute.get_strategy()
    logging.info("Training with %s over %d replicas", type(strategy).__name__,
                 strategy.num_replicas_in_sync)
    return strategy


@contextlib.contextmanager
def worker_directory(directory: str, strategy: tf.distribute.Strategy) -> Iterator[str]:
    """Where this worker writes what belongs in `directory`: `directory` itself on the chief
    (and without a cluster); a local scratch folder, removed afterwards, on the other workers.
    They must write all the same (saving reads aggregated variables, a collective every
    worker joins), but only the chief's files count and none may overwrite them."""
    if strategy.extended.should_checkpoint:
        yield directory
    else:
        with tempfile.TemporaryDirectory(prefix="gan-worker-") as scratch:
            yield scratch
