"""Runs the pipeline on this machine: `python -m pipeline.run_local [flags]`.

Only paths and runner settings live here; the pipeline itself is
`pipeline.pipeline.create_pipeline`.
"""
from __future__ import annotations

import argparse
import glob
import os

from components.quality_gate import EvaluationResult
from pipeline import bundled_data, configs, flags, preflight

RUNNERS = ("local", "beam")


def parse_args(argv=None) -> tuple[configs.PipelineConfig, str]:
    parser = argparse.ArgumentParser(description="Train, score and push a GAN generator locally.")
    parser.add_argument("--data-dir", default=None,
                        help="folder of images (class subfolders become labels); with "
                             "--input-format=tfrecord, of TFRecord files; with "
                             "--input-format=tfds, the TFDS data_dir the dataset is prepared in "
                             "(default: TFDS's, $TFDS_DATA_DIR or ~/tensorflow_datasets); "
                             "default: the bundled digits, written to "
                             f"{configs.DEFAULT_DATA_DIR} on first use")
    parser.add_argument("--output-dir", default=configs.PipelineConfig().output_dir,
                        help="pipeline root and ML Metadata (SQLite) go here")
    parser.add_argument("--serving-dir", default=None,
                        help="where blessed generators are pushed (TF Serving layout); "
                             "default: <output-dir>/serving_model")
    parser.add_argument("--runner", choices=RUNNERS, default="local",
                        help="LocalDagRunner (local) or BeamDagRunner (beam)")
    flags.add_pipeline_flags(parser)
    args = parser.parse_args(argv)

    output_dir = os.path.abspath(args.output_dir)
    data_dir = args.data_dir
    if data_dir is None and args.input_format == "tfds":
        from components.tfds_source import default_data_dir

        data_dir = default_data_dir()
    config = flags.pipeline_config(
        args,
        data_dir=os.path.abspath(data_dir or configs.DEFAULT_DATA_DIR),
        output_dir=output_dir,
        serving_dir=os.path.abspath(args.serving_dir or os.path.join(output_dir, "serving_model")))
    if data_dir is None:
        bundled_data.write_digits(config.data_dir)
    return config, args.runner


def run(config: configs.PipelineConfig, runner: str = "local") -> None:
    preflight.check(config)  # refuses a run whose generator could not be evaluated
    if config.input_format == "tfds":
        # Before TFX's ExampleGen driver, which would only say that no file matches.
        from components.tfds_source import resolve

        resolve(config.tfds_name, config.data_dir, config.tfds_splits, config.image_feature,
                config.label_feature)
    from absl import logging
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline

    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)
    pipeline = create_pipeline(config, metadata_connection_config=metadata)
    if runner == "local":
        dag_runner = tfx.orchestration.LocalDagRunner()
    else:
        # tfx.v1 does not export BeamDagRunner; this path is the same in TFX 1.16 and 1.21.
        from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

        dag_runner = BeamDagRunner()
    logging.set_verbosity(logging.INFO)
    dag_runner.run(pipeline)


def summarize(config: configs.PipelineConfig) -> str:
    """Where this run's outputs are: the newest of each artifact under the pipeline root."""
    def newest(pattern: str) -> str | None:
        matches = glob.glob(os.path.join(config.pipeline_root, pattern))
        return max(matches, key=os.path.getmtime) if matches else None

    lines = [f"ML Metadata:        {config.metadata_path}"]
    metrics_path = newest("FidEvaluator/evaluation/*/metrics.json")
    if metrics_path:
        with open(metrics_path) as source:
            result = EvaluationResult.from_json(source.read())
        lines += [f"Evaluation report:  {os.path.join(os.path.dirname(metrics_path), 'report.html')}",
                  *result.summary_lines()]
    grid = newest("Trainer/model_run/*/sample_grid.png")
    if grid:
        lines.append(f"Sample grid:        {grid}")
    lines.append(f"TensorBoard:        tensorboard --logdir {os.path.dirname(grid)}" if grid else "")
    versions = sorted(glob.glob(os.path.join(config.serving_dir, "*", "saved_model.pb")))
    lines.append(f"Pushed generator:   {os.path.dirname(versions[-1])}" if versions
                 else f"Pushed generator:   none in {config.serving_dir}")
    return "\n".join(line for line in lines if line)


def main(argv=None) -> None:
    from components.ingestion_report import IngestionError

    config, runner = parse_args(argv)
    try:
        run(config, runner)
    except (IngestionError, preflight.PreflightError) as error:  # says what to do
        raise SystemExit(f"error: {error}") from None
    print("\n" + summarize(config))


if __name__ == "__main__":
    main()
