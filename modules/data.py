"""Reading Transform's output: transformed tf.Examples to pixel batches or arrays."""
from __future__ import annotations

import hashlib
from typing import Sequence

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from modules import features


def transformed_dataset(file_patterns: Sequence[str], tf_transform_output: tft.TFTransformOutput,
                        batch_size: int, shuffle_seed: int | None = None,
                        repeat: bool = False) -> tf.data.Dataset:
    """Batches of parsed transformed features: {pixels: [B, H, W, C], label_id: [B]}.

    Batches before parsing (one vectorized parse per batch), shuffles files and
    records when a seed is given, and prefetches so the accelerator never waits.
    """
    files = tf.data.Dataset.list_files(list(file_patterns), shuffle=shuffle_seed is not None,
                                       seed=shuffle_seed)
    records = files.interleave(lambda f: tf.data.TFRecordDataset(f, compression_type="GZIP"),
                               num_parallel_calls=tf.data.AUTOTUNE,
                               deterministic=True)
    if shuffle_seed is not None:
        records = records.shuffle(10_000, seed=shuffle_seed, reshuffle_each_iteration=True)
    if repeat:
        records = records.repeat()
    feature_spec = tf_transform_output.transformed_feature_spec()
    return (records.batch(batch_size, drop_remainder=repeat)
            .map(lambda batch: tf.io.parse_example(batch, feature_spec),
                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


def load_split(file_patterns: Sequence[str], tf_transform_output: tft.TFTransformOutput,
               limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All (or the first `limit`) pixels and label ids of a split, in file order."""
    pixels, labels = [], []
    count = 0
    for batch in transformed_dataset(file_patterns, tf_transform_output, batch_size=512):
        pixels.append(batch[features.PIXELS].numpy())
        labels.append(batch[features.LABEL_ID].numpy())
        count += len(pixels[-1])
        if limit is not None and count >= limit:
            break
    if not pixels:
        raise ValueError(f"no transformed examples found in {list(file_patterns)}")
    return np.concatenate(pixels)[:limit], np.concatenate(labels)[:limit]


def split_file_patterns(examples_uri: str, split: str) -> list[str]:
    """The file pattern of one split of an Examples artifact (`Split-<name>/*`)."""
    return [f"{examples_uri}/Split-{split}/*"]


def fingerprint(file_patterns: Sequence[str]) -> str:
    """Identifies the training data by its files' paths and sizes.

    TFX artifact URIs are never reused, so paths and sizes identify a data
    version without reading (possibly many gigabytes of) content.
    """
    digest = hashlib.sha256()
    for path in sorted(tf.io.gfile.glob(list(file_patterns))):
        digest.update(f"{path}\t{tf.io.gfile.stat(path).length}\n".encode())
    return digest.hexdigest()
