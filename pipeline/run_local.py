"""Runs the pipeline on this machine: `python -m pipeline.run_local [flags]`.

Only paths and runner settings live here; the pipeline itself is
`pipeline.pipeline.create_pipeline`.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Callable

from pipeline import bundled_data, configs, flags, preflight, run_output

RUNNERS = ("local", "beam")
# The nodes whose outputs the summary shows (`pipeline.pipeline`'s component ids).
EVALUATOR_NODE = "FidEvaluator"
TRAINER_NODE = "Trainer"


@dataclasses.dataclass(frozen=True)
class LocalRun:
    """A parsed command line: the pipeline's settings and how to run it here."""

    config: configs.PipelineConfig
    runner: str = "local"
    verbose: bool = False


def parse_args(argv=None) -> LocalRun:
    """Flags to a validated `LocalRun`; a bad setting exits with status 2 and one line,
    `error: <the flag as typed>: <what is wrong>`, before anything heavy is imported."""
    parser = argparse.ArgumentParser(description="Train, score and push a GAN generator locally.")
    parser.add_argument("--data-dir", default=None,
                        help="folder of images (class subfolders become labels); with "
                             "--input-format=tfrecord, of TFRecord files; with "
                             "--input-format=tfds, the TFDS data_dir the dataset is prepared in "
                             "(default: TFDS's, $TFDS_DATA_DIR or ~/tensorflow_datasets); "
                             "default: the bundled digits, written to "
                             f"{configs.DEFAULT_DATA_DIR} on first use")
    parser.add_argument("--output-dir", default=configs.PipelineConfig().output_dir,
                        help="pipeline root, ML Metadata (SQLite), logs/ and reports/ go here")
    parser.add_argument("--serving-dir", default=None,
                        help="where blessed generators are pushed (TF Serving layout); "
                             "default: <output-dir>/serving_model")
    parser.add_argument("--runner", choices=RUNNERS, default="local",
                        help="LocalDagRunner (local) or BeamDagRunner (beam)")
    parser.add_argument("--verbose", action="store_true",
                        default=run_output.verbose_from_environment(),
                        help="every TFX, Beam and TensorFlow log line on the terminal instead "
                             f"of in <output-dir>/logs/ (also: {run_output.VERBOSE_ENV}=1)")
    flags.add_pipeline_flags(parser)
    args = parser.parse_args(argv)

    output_dir = os.path.abspath(args.output_dir)
    data_dir = args.data_dir
    try:
        tfds = flags.stage_settings(args)["ingest"].input_format == "tfds"
        if data_dir is not None and not tfds and not os.path.isdir(data_dir):
            parser.exit(2, f"error: --data-dir {data_dir}: the folder does not exist\n")
        if data_dir is None and tfds:
            from components.ingest.tfds_source import default_data_dir

            data_dir = default_data_dir()
        config = flags.pipeline_config(
            args,
            data_dir=os.path.abspath(data_dir or configs.DEFAULT_DATA_DIR),
            output_dir=output_dir,
            serving_dir=os.path.abspath(args.serving_dir or os.path.join(output_dir,
                                                                         "serving_model")))
    except ValueError as error:
        parser.exit(2, f"error: {flags.name_the_flag(error, args)}\n")
    if data_dir is None:
        bundled_data.write_digits(config.data_dir)
    return LocalRun(config, args.runner, args.verbose)


def run(config: configs.PipelineConfig, runner: str = "local",
        say: Callable[[str], None] = print) -> None:
    """Runs the pipeline, calling `say` with a line as each component starts and finishes;
    a component's exception comes out as `ComponentFailed`."""
    preflight.check(config)  # refuses a run whose generator could not be evaluated
    ingest = config.ingest
    if ingest.input_format == "tfds":
        # Before TFX's ExampleGen driver, which would only say that no file matches.
        from components.ingest.tfds_source import resolve

        resolve(ingest.tfds_name, config.data_dir, ingest.tfds_splits, ingest.image_feature,
                ingest.label_feature)
    from absl import logging
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline
    from pipeline.run_monitor import ComponentMonitor

    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)
    pipeline = create_pipeline(config, metadata_connection_config=metadata)
    if runner == "local":
        dag_runner = tfx.orchestration.LocalDagRunner()
    else:
        # tfx.v1 does not export BeamDagRunner; this path is the same in TFX 1.16 and 1.21.
        from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

        dag_runner = BeamDagRunner()
    logging.set_verbosity(logging.INFO)
    monitor = ComponentMonitor(config.metadata_path, configs.PIPELINE_NAME,
                               [component.id for component in pipeline.components], say)
    absl_logger = logging.get_absl_logger()
    absl_logger.addHandler(monitor)
    try:
        dag_runner.run(pipeline)
    except Exception as error:
        if monitor.running is None:
            raise
        raise run_output.ComponentFailed(monitor.running, error) from error
    finally:
        absl_logger.removeHandler(monitor)


def summarize(config: configs.PipelineConfig) -> str:
    """Where this run's outputs are: the artifacts its evaluator and Trainer recorded in ML
    Metadata, the evaluation's numbers and decision, and what is served."""
    from components.evaluation.result import REPORT_FILE, read_result
    from modules.training.trainer import SAMPLE_GRID_FILE
    from pipeline.run_monitor import last_execution

    def outputs(node: str) -> dict:
        return last_execution(config.metadata_path, configs.PIPELINE_NAME, node)[1]

    lines = [f"ML Metadata:        {config.metadata_path}"]
    evaluation = outputs(EVALUATOR_NODE)["ModelEvaluation"]
    result = read_result(evaluation.uri)
    lines += [f"Evaluation report:  {os.path.join(evaluation.uri, REPORT_FILE)}",
              *result.summary_lines(),
              "FID cache:          "
              + evaluation.custom_properties["extractor_cache_dir"].string_value]
    grid = os.path.join(outputs(TRAINER_NODE)["ModelRun"].uri, SAMPLE_GRID_FILE)
    if os.path.isfile(grid):
        lines += [f"Sample grid:        {grid}",
                  f"TensorBoard:        tensorboard --logdir {os.path.dirname(grid)}"]
    lines.append(_serving_line(config.serving_dir, blessed=result.blessed))
    return "\n".join(lines)


def _serving_line(serving_dir: str, blessed: bool) -> str:
    """What this run pushed, and which version TF Serving serves (the highest number)."""
    from components.push.serving_folder import served

    current = served(serving_dir)
    serving = (f"version {current.version} ({current.path})" if current is not None
               else f"nothing (no version in {serving_dir})")
    if blessed:
        return f"Pushed generator:   {serving}"
    return f"Pushed generator:   nothing this run (not blessed); serving {serving}"


def main(argv=None) -> None:
    local = parse_args(argv)
    output = run_output.RunOutput(local.config.output_dir, local.verbose)
    failure = summary = None
    with output.routed():
        try:
            run(local.config, local.runner, output.say)
        except Exception as error:  # noqa: BLE001  (every failure ends in one message)
            failure = output.fail(error)
        else:
            summary = summarize(local.config)  # ML Metadata's own log lines go to the log
    if failure:
        raise SystemExit(failure)
    output.say("\n" + summary)


if __name__ == "__main__":
    main()
