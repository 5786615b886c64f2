"""An ExampleGen for images: a FileBasedExampleGen with our Beam executor.

`tfx.v1` exposes no hook for a custom file-based ExampleGen, so this is the one
module that uses TFX classes outside `tfx.v1` (FileBasedExampleGen,
BaseBeamExecutor, BeamExecutorSpec, and the helpers that record split names
and the payload format); they are the same in TFX 1.16 and 1.21. What comes
from FileBasedExampleGen: the driver's input fingerprint (which makes caching
work) and the output layout every downstream component reads.

The executor runs one Beam job, `beam_job.IngestInputs` then
`beam_job.WriteSplits`; then it writes the ingestion report into the
examples artifact, records its counts as custom properties, and fails the run
when the bounds are broken.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, List

from absl import logging
from google.protobuf import json_format, message, struct_pb2
import tensorflow as tf
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.components.example_gen.write_split import (DEFAULT_TF_RECORD_FILE_NAME,
                                                    to_file_format_str)
from tfx.components.util import examples_utils
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.dsl.components.base.executor_spec import BeamExecutorSpec
from tfx.types import artifact_utils, standard_component_specs
from tfx import v1 as tfx

from components.ingest import beam_job

from components.ingest import report
from components.ingest.settings import IngestOptions
from modules import features

INPUT_BASE_KEY = standard_component_specs.INPUT_BASE_KEY
CUSTOM_CONFIG_KEY = standard_component_specs.CUSTOM_CONFIG_KEY
OPTIONS_KEY = "options"  # the custom_config entry holding the IngestOptions, as JSON
# The driver fingerprints the top-level entries of the input folder (files and
# class subfolders, whose modification times change when files are added or
# removed); the executor then reads every file below them.
TOP_LEVEL_PATTERN = "*"


def options_from(exec_properties: Dict[str, Any]) -> IngestOptions:
    custom_config = tfx.proto.CustomConfig()
    json_format.Parse(exec_properties[CUSTOM_CONFIG_KEY], custom_config)
    values = struct_pb2.Struct()
    custom_config.custom_config.Unpack(values)
    return IngestOptions.from_json(values[OPTIONS_KEY])


class ImageExampleGenExecutor(BaseBeamExecutor):
    """Beam executor: images (by content), TFRecords or a TFDS dataset to canonical
    tf.Examples in train/eval splits, plus a report.

    It replaces TFX's `BaseExampleGenExecutor`, whose writer reshuffles every
    example before writing; on the local runners that shuffle holds the whole
    dataset in memory. Here each example is written to its split as soon as it
    is made (see `beam_job.WriteSplits`), and the workers import no TFX.
    """

    def Do(self, input_dict: Dict[str, List[tfx.types.Artifact]],
           output_dict: Dict[str, List[tfx.types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        (examples,) = output_dict[standard_component_specs.EXAMPLES_KEY]
        input_base = exec_properties[INPUT_BASE_KEY]
        options = options_from(exec_properties)
        if options.settings.input_format != "tfds" and not tf.io.gfile.isdir(input_base):
            raise report.IngestionError(
                f"The input folder {input_base} does not exist (--data-dir)")
        output_config = tfx.proto.Output()
        json_format.Parse(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                          output_config)
        examples.split_names = artifact_utils.encode_split_names(
            [split.name for split in output_config.split_config.splits])
        splits = [beam_job.OutputSplit(split.name, split.hash_buckets, os.path.join(
            artifact_utils.get_split_uri([examples], split.name), DEFAULT_TF_RECORD_FILE_NAME))
            for split in output_config.split_config.splits]
        work_dir = os.path.join(examples.uri, "_ingest_work")
        try:
            with self._make_beam_pipeline() as pipeline:
                _ = (pipeline
                     | "Ingest" >> beam_job.IngestInputs(
                         input_base, options, work_dir,
                         show_progress=beam_job.runs_in_process(pipeline.options))
                     | "WriteSplits" >> beam_job.WriteSplits(
                         splits, output_config.split_config.partition_feature_name))
        finally:
            beam_job.close_progress(work_dir)
        examples_utils.set_payload_format(
            examples, exec_properties[standard_component_specs.OUTPUT_DATA_FORMAT_KEY])
        examples_utils.set_file_format(examples, to_file_format_str(
            exec_properties[standard_component_specs.OUTPUT_FILE_FORMAT_KEY]))

        with tf.io.gfile.GFile(os.path.join(work_dir, beam_job.INPUTS_SEEN_FILE)) as count:
            inputs_seen = int(count.read().strip() or 0)
        written = {split.name: report.count_records(
            os.path.dirname(split.file_prefix)) for split in splits}
        report_path = os.path.join(examples.uri, report.REPORT_FILE_NAME)
        settings = {"input_base": input_base, "image": dataclasses.asdict(options.spec),
                    **dataclasses.asdict(options.settings), "report_dir": options.report_dir}
        summary = report.write_report(
            report_path, settings, inputs_seen, written,
            tf.io.gfile.glob(os.path.join(work_dir, beam_job.REJECTIONS_PREFIX + "*")))
        tf.io.gfile.rmtree(work_dir)
        if options.report_dir:
            report_path = report.keep_report(report_path, options.report_dir)

        examples.set_int_custom_property("inputs_seen", summary.inputs_seen)
        for split, count in summary.examples_written.items():
            examples.set_int_custom_property(f"examples_written_{split}", count)
        examples.set_int_custom_property("rejected", summary.rejected)
        examples.set_float_custom_property("rejected_fraction", summary.rejected_fraction)
        examples.set_string_custom_property("ingestion_report", report_path)
        source = options.describe_source(input_base)
        logging.info("Ingest of %s: %s. Report: %s", source, summary.describe(), report_path)
        report.check_bounds(summary, source, options.settings.max_rejected_fraction,
                                      report_path)


def split_output_config(train_fraction: float):
    """Train/eval split by a hash of each input's relative path: stable across runs."""
    train_buckets = round(train_fraction * 100)
    if not 0 < train_buckets < 100:
        raise ValueError(f"train fraction must leave both splits non-empty, got {train_fraction}")
    split_config = tfx.proto.SplitConfig(splits=[
        tfx.proto.SplitConfig.Split(name="train", hash_buckets=train_buckets),
        tfx.proto.SplitConfig.Split(name="eval", hash_buckets=100 - train_buckets),
    ], partition_feature_name=features.PATH)
    return tfx.proto.Output(split_config=split_config)


def ImageExampleGen(input_base: str, options: IngestOptions = IngestOptions(),
                    code_version: str = "") -> FileBasedExampleGen:
    """Ingests a folder of images (class subfolders become labels), of TFRecords, or a TFDS
    dataset prepared in `input_base` (its data_dir).

    Splits deterministically by a hash of each input's relative path.
    `code_version` only keys the cache to our code (the executor ignores it).
    """
    values = struct_pb2.Struct()
    values.update({OPTIONS_KEY: options.to_json(), "code_version": code_version})
    custom_config = tfx.proto.CustomConfig()
    custom_config.custom_config.Pack(values)
    return FileBasedExampleGen(
        input_base=input_base,
        input_config=tfx.proto.Input(splits=[
            tfx.proto.Input.Split(name="images", pattern=TOP_LEVEL_PATTERN)]),
        output_config=split_output_config(options.settings.train_fraction),
        custom_config=custom_config,
        custom_executor_spec=BeamExecutorSpec(ImageExampleGenExecutor))


def run_ingest(input_base: str, examples_uri: str, options: IngestOptions,
               beam_pipeline_args: List[str]):
    """Runs the executor outside a pipeline (tests, benchmarks); returns the Examples artifact.

    The exec properties are exactly those the component sets, serialized as a
    TFX launcher passes them.
    """
    component = ImageExampleGen(input_base, options)
    exec_properties = {
        key: json_format.MessageToJson(value) if isinstance(value, message.Message) else value
        for key, value in component.exec_properties.items() if value is not None}
    examples = tfx.types.standard_artifacts.Examples()
    examples.uri = examples_uri
    executor = ImageExampleGenExecutor(
        ImageExampleGenExecutor.Context(beam_pipeline_args=list(beam_pipeline_args)))
    executor.Do({}, {"examples": [examples]}, exec_properties)
    return examples
