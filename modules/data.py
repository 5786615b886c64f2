"""Reading Transform's output: transformed tf.Examples to pixel batches or arrays, and the
resumable stream of real images the Trainer reads."""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Callable, Iterator, Sequence

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from modules import features
from modules.images import to_uint8

# Files read at once. Fixed (not AUTOTUNE, which follows the machine's cores), so the
# record order is the same on every machine a run resumes on.
INTERLEAVED_FILES = 4
# Records shuffled together (as a shuffle buffer would hold them).
SHUFFLE_BLOCK = 10_000


def _records(files: Sequence[str], order: tf.Tensor | None = None) -> tf.data.Dataset:
    """The gzipped TFRecords of `files`, in file order, or with the files in the order the
    stateless seed `order` gives."""
    names = tf.constant(list(files))
    if order is not None:
        names = tf.random.experimental.stateless_shuffle(names, seed=order)
    return tf.data.Dataset.from_tensor_slices(names).interleave(
        lambda f: tf.data.TFRecordDataset(f, compression_type="GZIP"),
        cycle_length=INTERLEAVED_FILES, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _shuffled_in_blocks(records: tf.data.Dataset, seed: tf.Tensor) -> tf.data.Dataset:
    """`records` permuted within consecutive blocks of SHUFFLE_BLOCK, by the stateless seed
    `seed`: unlike `Dataset.shuffle`, whose seed TensorFlow cannot take as a tensor inside a
    dataset function when the global seed is 0."""
    def permuted(index, block):
        block_seed = tf.random.experimental.stateless_fold_in(seed, index)
        order = tf.random.experimental.stateless_shuffle(tf.range(tf.shape(block)[0]),
                                                         seed=block_seed)
        # Gathered a slice of indices at a time: fast, and without a second copy of the block.
        return (tf.data.Dataset.from_tensor_slices(order).batch(256)
                .map(lambda indices: tf.gather(block, indices)).unbatch())
    return records.batch(SHUFFLE_BLOCK).enumerate().flat_map(permuted)


def _files(file_patterns: Sequence[str]) -> list[str]:
    files = sorted(tf.io.gfile.glob(list(file_patterns)))
    if not files:
        raise ValueError(f"no transformed examples found in {list(file_patterns)}")
    return files


def transformed_dataset(file_patterns: Sequence[str], tf_transform_output: tft.TFTransformOutput,
                        batch_size: int) -> tf.data.Dataset:
    """Batches of parsed transformed features in file order: {pixels: [B, H, W, C],
    label_id: [B]}. Batches before parsing (one vectorized parse per batch)."""
    feature_spec = tf_transform_output.transformed_feature_spec()
    return (_records(_files(file_patterns)).batch(batch_size)
            .map(lambda batch: tf.io.parse_example(batch, feature_spec),
                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


@dataclasses.dataclass(frozen=True)
class ImageStream:
    """The real images the Trainer reads: an endless stream that is a pure function of a
    seed, one shuffled epoch after another, so a resume re-enters it at a record count
    (the GAN's `images_seen`) instead of checkpointing a tf.data iterator, whose shuffle
    buffer would add hundreds of MB to every checkpoint at real image sizes."""

    # One epoch's records: in a fixed order for None, else in an order the source may vary
    # cheaply (its file order) by the stateless seed given; the stream shuffles the records.
    epoch: Callable[[tf.Tensor | None], tf.data.Dataset]
    # A batch of records to pixels [B, H, W, C] (parsing is cheaper per batch).
    decode: Callable[[Any], tf.Tensor] = tf.identity
    # Records in one epoch when the caller already counted them.
    num_records: int | None = None

    def count_records(self) -> int:
        """Records in one epoch (one pass over the data when its size is not known up front)."""
        if self.num_records is not None:
            return self.num_records
        records = self.epoch(None)
        known = int(records.cardinality())
        if known >= 0:
            return known
        return int(records.reduce(np.int64(0), lambda count, _: count + 1))

    def batches(self, seed: int, records_seen: int, records_per_epoch: int,
                batch_size: int) -> tf.data.Dataset:
        """Batches from record `records_seen` on; epoch e is shuffled by (`seed`, e), and
        batches run on across epoch ends, so the batches after a resume are those an
        uninterrupted run would have read."""
        first_epoch, offset = divmod(records_seen, records_per_epoch)

        def shuffled_epoch(epoch):
            epoch_seed = tf.stack([tf.constant(seed, tf.int64), epoch])
            return _shuffled_in_blocks(self.epoch(epoch_seed), epoch_seed)

        options = tf.data.Options()
        # Every worker reads the one stream and takes its share of each batch: sharding by
        # file would give each worker its own stream and break the record count.
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        return (tf.data.Dataset.counter(first_epoch)
                .flat_map(shuffled_epoch)
                .skip(offset)
                .batch(batch_size, drop_remainder=True)
                .map(self.decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .prefetch(tf.data.AUTOTUNE)
                .with_options(options))


def transformed_images(file_patterns: Sequence[str], tf_transform_output: tft.TFTransformOutput,
                       num_records: int | None = None) -> ImageStream:
    """The stream of a split's transformed pixels (`num_records` of them, when known)."""
    files = _files(file_patterns)
    feature_spec = tf_transform_output.transformed_feature_spec()
    return ImageStream(
        epoch=lambda order: _records(files, order),
        decode=lambda batch: tf.io.parse_example(batch, feature_spec)[features.PIXELS],
        num_records=num_records)


def stream_seed(seed: int, rollbacks: int) -> int:
    """The stream's seed: a rollback reads other batches than the run that diverged."""
    return int(np.random.SeedSequence([seed, rollbacks]).generate_state(1, np.uint64)[0]) >> 1


class StreamState(tf.Module):
    """Besides the GAN's `images_seen`, what fixes the position in the stream; checkpointed
    with the GAN, so a resume neither recounts the data nor forgets a rollback."""

    def __init__(self):
        super().__init__(name="stream_state")
        self.records_per_epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.rollbacks = tf.Variable(0, dtype=tf.int64, trainable=False)


def uint8_batches(file_patterns: Sequence[str], tf_transform_output: tft.TFTransformOutput,
                  batch_size: int = 512) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A split's pixels as the uint8 values the ingested PNGs held, and its label ids, in
    batches in file order."""
    for batch in transformed_dataset(file_patterns, tf_transform_output, batch_size):
        yield to_uint8(batch[features.PIXELS].numpy()), batch[features.LABEL_ID].numpy()


def load_split(file_patterns: Sequence[str], tf_transform_output: tft.TFTransformOutput
               ) -> tuple[np.ndarray, np.ndarray]:
    """All uint8 pixels and label ids of a split, in file order."""
    batches = list(uint8_batches(file_patterns, tf_transform_output))
    if not batches:
        raise ValueError(f"no transformed examples found in {list(file_patterns)}")
    return tuple(np.concatenate(arrays) for arrays in zip(*batches))


def label_ids(file_patterns: Sequence[str], tf_transform_output: tft.TFTransformOutput,
              batch_size: int = 4096) -> np.ndarray:
    """A split's label ids in file order, parsing nothing else: its size and classes without
    decoding every image's pixels."""
    spec = {features.LABEL_ID: tf_transform_output.transformed_feature_spec()[features.LABEL_ID]}
    batches = (_records(_files(file_patterns)).batch(batch_size)
               .map(lambda batch: tf.io.parse_example(batch, spec)[features.LABEL_ID]))
    return np.concatenate([labels.numpy() for labels in batches] or [np.zeros(0, np.int64)])


def count_records(file_patterns: Sequence[str]) -> int:
    """Examples in a split, counted without parsing them."""
    return int(_records(_files(file_patterns)).reduce(np.int64(0), lambda count, _: count + 1))


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
