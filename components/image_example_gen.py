"""An ExampleGen for folders of images: a FileBasedExampleGen with our Beam executor.

`tfx.v1` exposes no hook for a custom file-based ExampleGen, so this is the one
module that uses TFX classes outside `tfx.v1` (FileBasedExampleGen,
BaseExampleGenExecutor, BeamExecutorSpec); they are the same in TFX 1.16 and
1.21. Everything else about ExampleGen comes for free: the driver's input
fingerprint (which makes caching work), hash-based splitting and the output
layout every downstream component reads.
"""
from __future__ import annotations

import os
from typing import Any, Dict

import apache_beam as beam
from absl import logging
from apache_beam.io import fileio
import tensorflow as tf
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base.executor_spec import BeamExecutorSpec
from tfx import v1 as tfx

from components.image_decoding import Rejection, image_to_example
from modules import features

INPUT_BASE_KEY = "input_base"
# The driver fingerprints the top-level entries of the input folder (files and
# class subfolders, whose modification times change when files are added or
# removed); the executor then reads every file below them.
TOP_LEVEL_PATTERN = "*"


class _ToExampleOrRejection(beam.DoFn):
    REJECTED = "rejected"

    def __init__(self, input_base: str):
        self._input_base = input_base
        self._ingested = beam.metrics.Metrics.counter("image_example_gen", "ingested")
        self._rejected = beam.metrics.Metrics.counter("image_example_gen", "rejected")

    def process(self, readable_file: fileio.ReadableFile):
        path = readable_file.metadata.path
        relative_path = os.path.relpath(path, self._input_base)
        try:
            content = readable_file.read()
        except OSError as error:
            result = Rejection(relative_path, "unreadable", str(error))
        else:
            result = image_to_example(content, relative_path)
        if isinstance(result, Rejection):
            self._rejected.inc()
            yield beam.pvalue.TaggedOutput(self.REJECTED, result)
        else:
            self._ingested.inc()
            yield result


def _log_rejection(rejection: Rejection) -> None:
    logging.warning("Rejected %s: %s %s", rejection.path, rejection.reason, rejection.detail)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _ImageFilesToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                         split_pattern: str) -> beam.pvalue.PCollection:
    """Streams every file below `input_base` into tf.Examples; rejections are logged."""
    del split_pattern  # the whole tree below input_base is read (see TOP_LEVEL_PATTERN)
    input_base = exec_properties[INPUT_BASE_KEY]
    results = (pipeline
               | "MatchFiles" >> fileio.MatchFiles(os.path.join(input_base, "**"))
               | "ReadMatches" >> fileio.ReadMatches()
               | "Decode" >> beam.ParDo(_ToExampleOrRejection(input_base)).with_outputs(
                   _ToExampleOrRejection.REJECTED, main="examples"))
    _ = results[_ToExampleOrRejection.REJECTED] | "LogRejections" >> beam.Map(_log_rejection)
    return results["examples"]


class ImageExampleGenExecutor(BaseExampleGenExecutor):
    """Beam executor: image files (PNG, JPEG, GIF, BMP, recognised by content) to tf.Examples."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _ImageFilesToExample


def split_output_config(train_fraction: float, partition_feature: str | None):
    """Train/eval split by a hash of `partition_feature` (whole example when None)."""
    train_buckets = round(train_fraction * 100)
    if not 0 < train_buckets < 100:
        raise ValueError(f"train fraction must leave both splits non-empty, got {train_fraction}")
    split_config = tfx.proto.SplitConfig(splits=[
        tfx.proto.SplitConfig.Split(name="train", hash_buckets=train_buckets),
        tfx.proto.SplitConfig.Split(name="eval", hash_buckets=100 - train_buckets),
    ])
    if partition_feature:
        split_config.partition_feature_name = partition_feature
    return tfx.proto.Output(split_config=split_config)


def ImageExampleGen(input_base: str, train_fraction: float = 0.8) -> FileBasedExampleGen:
    """Reads PNG/JPEG images recursively; labels come from class subfolders.

    Splits deterministically by a hash of each file's relative path.
    """
    return FileBasedExampleGen(
        input_base=input_base,
        input_config=tfx.proto.Input(splits=[
            tfx.proto.Input.Split(name="images", pattern=TOP_LEVEL_PATTERN)]),
        output_config=split_output_config(train_fraction, features.PATH),
        custom_executor_spec=BeamExecutorSpec(ImageExampleGenExecutor))
