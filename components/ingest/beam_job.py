"""The ingest Beam job: every input below a folder to a canonical tf.Example or a rejection.

Inputs are image files, the records of TFRecord files, or the records of a
prepared TFDS dataset's shard files. It streams: the folder is listed one
directory at a time (or the TFDS shards are named from the dataset's metadata),
the file names are spread over the workers, and each input is read, normalized
and emitted on its own; rejections stream to JSON-lines shards and the number
of inputs to a count file, both under `work_dir`, for the ingestion report.
Free of TFX and TFDS, so multi-process workers import only Beam, TensorFlow and
Pillow.
"""
from __future__ import annotations

import bisect
import dataclasses
import hashlib
import itertools
import os
from typing import Iterator, Sequence, Union

import apache_beam as beam
from google.protobuf.message import DecodeError
import tensorflow as tf
import tqdm

from components.ingest.decoding import (CORRUPT, NOT_AN_IMAGE, UNREADABLE, Rejection,
                                        image_to_example)
from components.ingest.settings import IngestOptions
from components.ingest.report import rejection_to_json_line
from components.ingest.tfds_source import UNLABELED, TfdsShard, resolve
from modules import features
from modules.progress import progress_bar

INPUTS_SEEN_FILE = "inputs_seen"
REJECTIONS_PREFIX = "rejections"
_REJECTED = "rejected"
# The terminal progress bar of an in-process job, by its work folder: the DoFn instances
# of one job share it (see `_Normalize`), and the executor closes it (`close_progress`).
_PROGRESS: dict[str, tqdm.tqdm] = {}


@dataclasses.dataclass(frozen=True)
class Progress:
    """Which job's bar to advance, and how many inputs it will see (None: not known ahead)."""

    key: str
    total: int | None

    def advance(self) -> None:
        if self.key not in _PROGRESS:
            _PROGRESS[self.key] = progress_bar("Ingest", self.total)
        _PROGRESS[self.key].update(1)


def runs_in_process(options: beam.options.pipeline_options.PipelineOptions) -> bool:
    """Whether the job's steps run in this process, which has the terminal: the local
    runners in their default in-memory mode (not multi-processing, not a remote runner)."""
    runner = options.view_as(beam.options.pipeline_options.StandardOptions).runner
    mode = options.view_as(beam.options.pipeline_options.DirectOptions).direct_running_mode
    return (runner or "DirectRunner").split(".")[-1] in (
        "FnApiRunner", "DirectRunner", "SwitchingDirectRunner") and mode == "in_memory"


def close_progress(key: str) -> None:
    bar = _PROGRESS.pop(key, None)
    if bar is not None:
        bar.close()


def expected_inputs(input_base: str, options: IngestOptions) -> int | None:
    """The number of inputs, when known before reading them: the files below the folder
    (one more listing of names), or the records a TFDS dataset's metadata promises."""
    settings = options.settings
    if settings.input_format == "images":
        return sum(len(names) for _, _, names in tf.io.gfile.walk(input_base))
    if settings.input_format == "tfds":
        return sum(shard.num_records for shard in resolve(
            settings.tfds_name, input_base, settings.tfds_splits, settings.image_feature,
            settings.label_feature).shards)
    return None  # TFRecord files: records are counted as they are read


@dataclasses.dataclass(frozen=True)
class RawImage:
    """The encoded bytes of one input, named by its path relative to the input folder."""

    path: str
    content: bytes
    label: str | None = None      # None: the top-level subfolder of `path`


def _list_files(input_base: str) -> list[str]:
    """Every non-directory entry below `input_base` (hidden files and broken links too),
    in the order of a hash of their paths: class folders are listed one after another,
    and examples written in that order would reach the Trainer's shuffle buffer one
    class at a time. The order is fixed by the relative paths, so a re-run (or the same
    folder elsewhere) writes the same files.
    Only the names are held, not the images."""
    paths = [os.path.join(directory, name)
             for directory, _, names in tf.io.gfile.walk(input_base) for name in names]
    return sorted(paths, key=lambda path: hashlib.sha256(
        _relative(path, input_base).encode()).digest())


def _relative(path: str, input_base: str) -> str:
    return path[len(input_base):].lstrip("/")


def _read_image_file(path: str, input_base: str) -> Union[RawImage, Rejection]:
    try:
        with tf.io.gfile.GFile(path, "rb") as source:
            return RawImage(_relative(path, input_base), source.read())
    except (OSError, tf.errors.OpError) as error:
        return Rejection(_relative(path, input_base), UNREADABLE, str(error))


def _read_records(path: str, input_base: str, image_feature: str,
                  label_feature: str) -> Iterator[Union[RawImage, Rejection]]:
    """The tf.Examples of one TFRecord file (gzipped when named *.gz), named `<file>#<index>`."""
    compression = "GZIP" if path.endswith((".gz", ".gzip")) else ""
    name = _relative(path, input_base)
    index = 0
    try:
        for record in tf.data.TFRecordDataset(path, compression_type=compression):
            yield _record_to_raw_image(record.numpy(), f"{name}#{index}", image_feature,
                                       label_feature)
            index += 1
    except tf.errors.OpError as error:  # a bad checksum or a cut file: the rest is unreadable
        yield Rejection(f"{name}#{index}", CORRUPT,
                        f"record {index} and any after it are unreadable: {error}")
        return
    if index == 0 and tf.io.gfile.stat(path).length > 0:  # shorter than one record header
        yield Rejection(f"{name}#0", CORRUPT, "not a TFRecord file: no complete record")


def _read_tfds_shard(shard: TfdsShard, image_feature: str, label_feature: str,
                     class_names: tuple[str, ...]) -> Iterator[Union[RawImage, Rejection]]:
    """The records TFDS would read from one shard, named `tfds:<dataset>/<split>/<index>`.

    Every record the shard's metadata promises is accounted for: those a missing,
    cut or damaged file does not yield are rejected.
    """
    read = 0
    if not tf.io.gfile.exists(shard.path):
        reason, detail = UNREADABLE, f"shard file {shard.path} is missing"
    else:
        reason = CORRUPT
        try:
            for record in _shard_records(shard):
                yield _record_to_raw_image(record, shard.record_name(read), image_feature,
                                           label_feature, class_names)
                read += 1
            detail = f"shard {shard.path} ends after {read} of {shard.num_records} records"
        except (tf.errors.OpError, RuntimeError, ValueError) as error:
            detail = f"shard {shard.path} is unreadable from record {read} on: {error}"
    for missing in range(read, shard.num_records):
        yield Rejection(shard.record_name(missing), reason, detail)


def _shard_records(shard: TfdsShard) -> Iterator[bytes]:
    """At most `num_records` records, as TFDS reads them; raises on a damaged file."""
    if shard.file_format == "array_record":
        from array_record.python.array_record_module import ArrayRecordReader

        reader = ArrayRecordReader(shard.path)
        try:
            for _ in range(min(shard.num_records, reader.num_records())):
                yield reader.read()
        finally:
            reader.close()
    else:
        for record in tf.data.TFRecordDataset(shard.path).take(shard.num_records):
            yield record.numpy()


def _record_to_raw_image(record: bytes, path: str, image_feature: str, label_feature: str,
                         class_names: tuple[str, ...] = ()):
    """The image bytes and label of one record; the label feature is optional.

    A string label is kept; an integer one is the index into `class_names` when
    given (TFDS's ClassLabel, whose -1 means unlabeled), else written as a number.
    """
    try:
        feature_map = tf.train.Example.FromString(record).features.feature
    except DecodeError as error:
        return Rejection(path, NOT_AN_IMAGE, f"not a tf.Example: {error}")
    encoded = feature_map[image_feature].bytes_list.value if image_feature in feature_map else []
    if not encoded:
        return Rejection(path, NOT_AN_IMAGE, f"no bytes feature {image_feature!r}")
    label = feature_map[label_feature] if label_feature in feature_map else tf.train.Feature()
    if label.bytes_list.value:
        return RawImage(path, encoded[0], label.bytes_list.value[0].decode("utf-8"))
    if label.int64_list.value:
        value = label.int64_list.value[0]
        if not class_names:
            return RawImage(path, encoded[0], str(value))
        return RawImage(path, encoded[0], "" if value == UNLABELED else class_names[value])
    return RawImage(path, encoded[0], "")


@dataclasses.dataclass(frozen=True)
class OutputSplit:
    """One output split: its share of the hash buckets and where its files go."""

    name: str
    hash_buckets: int
    file_prefix: str        # gzipped TFRecord shards are `<file_prefix>-NNNNN-of-NNNNN.gz`


def split_of(example: tf.train.Example, num_splits: int, partition_feature: str,
             bucket_ends: Sequence[int]) -> int:
    """The split of an example, exactly as TFX's ExampleGen computes it from the feature:
    sha256 of the serialized feature, modulo the buckets, then the split whose range
    holds that bucket (`bucket_ends` are the cumulative bucket counts, one per split)."""
    del num_splits  # len(bucket_ends); beam.Partition passes it
    key = example.features.feature[partition_feature].SerializeToString(deterministic=True)
    return bisect.bisect(bucket_ends, int(hashlib.sha256(key).hexdigest(), 16) % bucket_ends[-1])


def _serialize(example: tf.train.Example) -> bytes:
    return example.SerializeToString()


@beam.ptransform_fn
@beam.typehints.with_input_types(tf.train.Example)
def WriteSplits(examples, splits: Sequence[OutputSplit], partition_feature: str):
    """Writes each example to the gzipped TFRecord files of its split as it arrives.

    Unlike TFX's split writer there is no shuffle before writing, which on the
    local runners would hold every example in memory; which split an example
    goes to is TFX's hash split, and the Trainer shuffles what it reads.
    """
    bucket_ends = list(itertools.accumulate(split.hash_buckets for split in splits))
    parts = examples | "Split" >> beam.Partition(split_of, len(splits), partition_feature,
                                                  bucket_ends)
    return tuple(part
                 | f"Serialize[{split.name}]" >> beam.Map(_serialize)
                 | f"Write[{split.name}]" >> beam.io.WriteToTFRecord(split.file_prefix,
                                                                     file_name_suffix=".gz")
                 for split, part in zip(splits, parts))


class _Normalize(beam.DoFn):
    """A raw input to a canonical tf.Example, or its rejection as a JSON line."""

    def __init__(self, options: IngestOptions, progress: Progress | None):
        self._options = options
        self._progress = progress

    def process(self, item: Union[RawImage, Rejection]):
        if self._progress:
            self._progress.advance()
        result = item if isinstance(item, Rejection) else image_to_example(
            item.content, item.path, self._options, item.label)
        if isinstance(result, Rejection):
            yield beam.pvalue.TaggedOutput(_REJECTED, rejection_to_json_line(result))
        else:
            yield result


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.pvalue.PBegin)
@beam.typehints.with_output_types(tf.train.Example)
def IngestInputs(pipeline, input_base: str, options: IngestOptions, work_dir: str,
                 show_progress: bool = False) -> beam.pvalue.PCollection:
    """Streams every input below `input_base` into tf.Examples; rejections go to shards.

    `show_progress`: a progress bar on standard output, keyed by `work_dir`; only for
    runners that process the job in this process (workers elsewhere have no terminal).
    """
    input_base = input_base.rstrip("/")
    settings = options.settings
    progress = Progress(work_dir, expected_inputs(input_base, options)) if show_progress \
        else None
    if settings.input_format == "tfds":
        source = resolve(settings.tfds_name, input_base, settings.tfds_splits,
                         settings.image_feature, settings.label_feature)
        inputs = (pipeline
                  | "Shards" >> beam.Create(source.shards)
                  | "SpreadShards" >> beam.Reshuffle()
                  | "ReadShards" >> beam.FlatMap(_read_tfds_shard, settings.image_feature,
                                                 settings.label_feature, source.class_names))
    else:
        files = (pipeline
                 | "InputBase" >> beam.Create([input_base])
                 | "ListFiles" >> beam.FlatMap(_list_files)
                 | "SpreadFiles" >> beam.Reshuffle())
        if settings.input_format == "images":
            inputs = files | "ReadFiles" >> beam.Map(_read_image_file, input_base)
        else:
            inputs = files | "ReadRecords" >> beam.FlatMap(
                _read_records, input_base, settings.image_feature, settings.label_feature)
    results = inputs | "Normalize" >> beam.ParDo(_Normalize(options, progress)).with_outputs(
        _REJECTED, main="examples")
    _ = (inputs
         | "CountInputs" >> beam.combiners.Count.Globally()
         | "WriteInputCount" >> beam.io.WriteToText(os.path.join(work_dir, INPUTS_SEEN_FILE),
                                                    shard_name_template=""))
    _ = results[_REJECTED] | "WriteRejections" >> beam.io.WriteToText(
        os.path.join(work_dir, REJECTIONS_PREFIX), file_name_suffix=".jsonl")
    return results["examples"]
