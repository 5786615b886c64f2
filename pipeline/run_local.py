"""Runs the pipeline on this machine: `python -m pipeline.run_local [flags]`.

Only paths and runner settings live here; the pipeline itself is
`pipeline.pipeline.create_pipeline`.
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os

from modules.metrics import FID_EXTRACTORS
from modules.training_config import TrainerConfig
from pipeline import bundled_data, configs

RUNNERS = ("local", "beam")


def parse_args(argv=None) -> tuple[configs.PipelineConfig, str]:
    defaults = configs.PipelineConfig()
    parser = argparse.ArgumentParser(description="Train, score and push a GAN generator locally.")
    parser.add_argument("--data-dir", default=None,
                        help="folder of images (class subfolders become labels) or, with "
                             "--input-format=tfrecord, of TFRecord files; default: the bundled "
                             f"digits, written to {configs.DEFAULT_DATA_DIR} on first use")
    parser.add_argument("--input-format", choices=configs.INPUT_FORMATS,
                        default=defaults.input_format)
    parser.add_argument("--image-feature", default=defaults.image_feature,
                        help="name of the encoded-image feature in TFRecord input")
    parser.add_argument("--output-dir", default=defaults.output_dir,
                        help="pipeline root and ML Metadata (SQLite) go here")
    parser.add_argument("--serving-dir", default=None,
                        help="where blessed generators are pushed (TF Serving layout); "
                             "default: <output-dir>/serving_model")
    parser.add_argument("--image-size", type=int, default=defaults.image_size)
    parser.add_argument("--channels", type=int, choices=(1, 3), default=defaults.channels)
    parser.add_argument("--train-steps", type=int, default=defaults.train_steps)
    parser.add_argument("--batch-size", type=int, default=defaults.trainer.batch_size)
    parser.add_argument("--trainer-option", action="append", default=[], metavar="NAME=VALUE",
                        help="any Trainer setting of modules/training_config.py's "
                             "TrainerConfig (repeatable), e.g. --trainer-option loss=hinge "
                             "--trainer-option diff_augment=translation,cutout")
    parser.add_argument("--fid-threshold", type=float, default=defaults.fid_threshold)
    parser.add_argument("--fid-samples", type=int, default=defaults.fid_num_samples)
    parser.add_argument("--fid-extractor", default=defaults.fid_extractor,
                        choices=FID_EXTRACTORS)
    parser.add_argument("--fid-extractor-path", default=defaults.fid_extractor_path,
                        help="inception: path or URL of classify_image_graph_def.pb or "
                             "inception-2015-12-05.tgz; saved_model: the model's path")
    parser.add_argument("--fid-tolerance", type=float, default=defaults.fid_baseline_tolerance,
                        help="bless only if FID <= served FID * (1 + tolerance)")
    parser.add_argument("--train-fraction", type=float, default=defaults.train_fraction)
    parser.add_argument("--keep-versions", type=int, default=defaults.keep_versions,
                        help="pushed versions to keep in the serving folder")
    parser.add_argument("--runner", choices=RUNNERS, default="local",
                        help="LocalDagRunner (local) or BeamDagRunner (beam)")
    parser.add_argument("--no-cache", action="store_true", help="rerun every component")
    parser.add_argument("--beam-arg", action="append", default=None,
                        help="a Beam pipeline argument (repeatable); default: "
                             + " ".join(defaults.beam_pipeline_args))
    args = parser.parse_args(argv)

    output_dir = os.path.abspath(args.output_dir)
    config = configs.PipelineConfig(
        data_dir=os.path.abspath(args.data_dir or configs.DEFAULT_DATA_DIR),
        input_format=args.input_format,
        image_feature=args.image_feature,
        output_dir=output_dir,
        serving_dir=os.path.abspath(args.serving_dir or os.path.join(output_dir, "serving_model")),
        image_size=args.image_size,
        channels=args.channels,
        train_steps=args.train_steps,
        fid_threshold=args.fid_threshold,
        fid_num_samples=args.fid_samples,
        fid_extractor=args.fid_extractor,
        fid_extractor_path=args.fid_extractor_path,
        fid_baseline_tolerance=args.fid_tolerance,
        train_fraction=args.train_fraction,
        keep_versions=args.keep_versions,
        trainer=dataclasses.replace(defaults.trainer, batch_size=args.batch_size,
                                    **trainer_options(args.trainer_option)),
        beam_pipeline_args=tuple(args.beam_arg or defaults.beam_pipeline_args),
        enable_cache=not args.no_cache)
    if args.data_dir is None:
        bundled_data.write_digits(config.data_dir)
    return config, args.runner


def trainer_options(assignments: list[str]) -> dict:
    """`NAME=VALUE` strings to TrainerConfig fields, converted to each field's type."""
    types = {field.name: field.type for field in dataclasses.fields(TrainerConfig)}
    options = {}
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        if name not in types:
            raise SystemExit(f"--trainer-option: unknown setting {name!r}; "
                             f"choose from {sorted(types)}")
        if types[name] == "bool":
            options[name] = value.lower() in ("1", "true", "yes")
        else:
            options[name] = {"int": int, "float": float}.get(types[name], str)(value)
    return options


def run(config: configs.PipelineConfig, runner: str = "local") -> None:
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
            result = json.load(source)
        baseline = ("nothing served before" if result["baseline_fid"] is None else
                    f"served version {result['baseline_version']}: {result['baseline_fid']:.4f}")
        lines += [f"Evaluation report:  {os.path.join(os.path.dirname(metrics_path), 'report.html')}",
                  f"FID:                {result['fid']:.4f} (real-vs-real floor "
                  f"{result['fid_real_floor']:.4f}, threshold {result['fid_threshold']}, "
                  f"{baseline})",
                  f"KID:                {result['kid_mean']:.5f} ± {result['kid_std']:.5f}",
                  f"Precision/recall:   {result['precision']:.3f} / {result['recall']:.3f}",
                  f"Decision:           {'BLESSED' if result['blessed'] else 'NOT blessed'}: "
                  f"{result['reason']}"]
    grid = newest("Trainer/model_run/*/sample_grid.png")
    if grid:
        lines.append(f"Sample grid:        {grid}")
    lines.append(f"TensorBoard:        tensorboard --logdir {os.path.dirname(grid)}" if grid else "")
    versions = sorted(glob.glob(os.path.join(config.serving_dir, "*", "saved_model.pb")))
    lines.append(f"Pushed generator:   {os.path.dirname(versions[-1])}" if versions
                 else f"Pushed generator:   none in {config.serving_dir}")
    return "\n".join(line for line in lines if line)


def main(argv=None) -> None:
    config, runner = parse_args(argv)
    run(config, runner)
    print("\n" + summarize(config))


if __name__ == "__main__":
    main()
