"""The pipeline's command-line flags, shared by every runner (local and Kubeflow).

Each runner adds its own path and runner flags; what the pipeline computes
(image size, training, the FID gate, Beam) is spelled the same everywhere.
"""
from __future__ import annotations

import argparse
import dataclasses
import re

from components.ingest_config import FIT_MODES, INPUT_FORMATS
from components.quality_gate import SETTING_FLAGS, GateConfig
from modules.metrics import (AUTO_EXTRACTOR, FID_EXTRACTOR_CHOICES, LABELED_EXTRACTOR,
                             UNLABELED_EXTRACTOR)
from modules.training_config import TrainerConfig
from pipeline import configs


def add_pipeline_flags(parser: argparse.ArgumentParser) -> None:
    """Adds every setting of `PipelineConfig` that is not a path."""
    defaults = configs.PipelineConfig()
    parser.add_argument("--input-format", choices=INPUT_FORMATS, default=defaults.input_format)
    parser.add_argument("--image-feature", default=defaults.image_feature,
                        help="name of the encoded-image feature in TFRecord and TFDS input")
    parser.add_argument("--label-feature", default=defaults.label_feature,
                        help="name of the label feature in TFRecord and TFDS input "
                             "('' for unlabeled data)")
    parser.add_argument("--tfds-name", default=defaults.tfds_name,
                        help="with --input-format=tfds: the dataset, as tfds.builder takes it "
                             "(mnist, mnist:3.0.1, name/config), prepared in --data-dir")
    parser.add_argument("--tfds-split", action="append", default=None, dest="tfds_splits",
                        help="with --input-format=tfds: a split to read (repeatable; "
                             "default: every split)")
    parser.add_argument("--fit", choices=FIT_MODES, default=defaults.fit,
                        help="how non-square images become square before resizing")
    parser.add_argument("--max-image-pixels", type=int, default=defaults.max_image_pixels,
                        help="images with more pixels are rejected before they are decoded")
    parser.add_argument("--max-rejected-fraction", type=float,
                        default=defaults.max_rejected_fraction,
                        help="ingest fails when a larger fraction of the inputs is rejected")
    parser.add_argument("--min-image-side", type=int, default=defaults.min_image_side,
                        help="smaller source images stop the run (schema validation)")
    parser.add_argument("--max-image-side", type=int, default=defaults.max_image_side,
                        help="larger source images stop the run (schema validation)")
    parser.add_argument("--image-size", type=int, default=defaults.image_size)
    parser.add_argument("--channels", type=int, choices=(1, 3), default=defaults.channels)
    parser.add_argument("--train-steps", type=int, default=defaults.train_steps)
    parser.add_argument("--batch-size", type=int, default=defaults.trainer.batch_size)
    parser.add_argument("--trainer-option", action="append", default=[], metavar="NAME=VALUE",
                        help="any Trainer setting of modules/training_config.py's "
                             "TrainerConfig (repeatable), e.g. --trainer-option loss=hinge "
                             "--trainer-option diff_augment=translation,cutout")
    gate = defaults.gate
    parser.add_argument(SETTING_FLAGS["max_fid_ratio"], type=float, default=gate.max_fid_ratio,
                        help="bless only if FID <= this x the real-vs-real FID floor (same "
                             "extractor, same sample counts)")
    parser.add_argument(SETTING_FLAGS["min_recall"], type=float, default=gate.min_recall,
                        help="bless only if recall (real images covered by samples; low "
                             "means mode collapse) reaches this")
    parser.add_argument(SETTING_FLAGS["min_precision"], type=float, default=gate.min_precision,
                        help="bless only if precision (samples on the real-image manifold) "
                             "reaches this")
    parser.add_argument(SETTING_FLAGS["fid_threshold"], type=float, default=gate.fid_threshold,
                        help="also require FID <= this absolute value (default: off)")
    parser.add_argument(SETTING_FLAGS["min_inception_score"], type=float,
                        default=gate.min_inception_score,
                        help="also require this classifier score (labeled data; default: off)")
    parser.add_argument("--fid-samples", type=int, default=defaults.fid_num_samples)
    parser.add_argument("--fid-extractor", default=defaults.fid_extractor,
                        choices=FID_EXTRACTOR_CHOICES,
                        help=f"{AUTO_EXTRACTOR}: {LABELED_EXTRACTOR} when the data has labels "
                             f"of at least two classes, else {UNLABELED_EXTRACTOR}")
    parser.add_argument("--fid-extractor-path", default=defaults.fid_extractor_path,
                        help="inception: path or URL of classify_image_graph_def.pb or "
                             "inception-2015-12-05.tgz; saved_model: the model's path")
    parser.add_argument(SETTING_FLAGS["baseline_tolerance"], type=float,
                        default=gate.baseline_tolerance,
                        help="bless only if FID <= served FID * (1 + tolerance)")
    parser.add_argument("--train-fraction", type=float, default=defaults.train_fraction)
    parser.add_argument("--keep-versions", type=int, default=defaults.keep_versions,
                        help="pushed versions to keep in the serving folder")
    parser.add_argument("--compressed-precisions", default=",".join(
                            defaults.compressed_precisions), metavar="float16,int8",
                        help="also score reduced-precision copies of the generator and push "
                             "each to SERVING_DIR/<precision>/ when its FID is within "
                             "--compressed-fid-tolerance of the float32 one ('' for none)")
    parser.add_argument("--compressed-fid-tolerance", type=float,
                        default=defaults.compressed_fid_tolerance,
                        help="push a compressed copy only if its FID <= float32 FID * "
                             "(1 + tolerance)")
    parser.add_argument("--no-cache", action="store_true", help="rerun every component")
    parser.add_argument("--beam-arg", action="append", default=None,
                        help="a Beam pipeline argument (repeatable); default: "
                             + " ".join(defaults.beam_pipeline_args))


def pipeline_config(args: argparse.Namespace, *, data_dir: str, output_dir: str,
                    serving_dir: str) -> configs.PipelineConfig:
    """The `PipelineConfig` of parsed flags, with the paths the runner resolved."""
    defaults = configs.PipelineConfig()
    return configs.PipelineConfig(
        data_dir=data_dir,
        input_format=args.input_format,
        image_feature=args.image_feature,
        label_feature=args.label_feature,
        tfds_name=args.tfds_name,
        tfds_splits=tuple(args.tfds_splits or defaults.tfds_splits),
        fit=args.fit,
        max_image_pixels=args.max_image_pixels,
        max_rejected_fraction=args.max_rejected_fraction,
        min_image_side=args.min_image_side,
        max_image_side=args.max_image_side,
        output_dir=output_dir,
        serving_dir=serving_dir,
        image_size=args.image_size,
        channels=args.channels,
        train_steps=args.train_steps,
        fid_num_samples=args.fid_samples,
        fid_extractor=args.fid_extractor,
        fid_extractor_path=args.fid_extractor_path,
        gate=GateConfig(max_fid_ratio=args.max_fid_ratio, min_recall=args.min_recall,
                        min_precision=args.min_precision, fid_threshold=args.fid_threshold,
                        min_inception_score=args.min_inception_score,
                        baseline_tolerance=args.fid_tolerance),
        train_fraction=args.train_fraction,
        keep_versions=args.keep_versions,
        compressed_precisions=tuple(p for p in args.compressed_precisions.split(",") if p),
        compressed_fid_tolerance=args.compressed_fid_tolerance,
        trainer=dataclasses.replace(defaults.trainer, batch_size=args.batch_size,
                                    **trainer_options(args.trainer_option)),
        beam_pipeline_args=tuple(args.beam_arg or defaults.beam_pipeline_args),
        enable_cache=not args.no_cache)


def trainer_options(assignments: list[str]) -> dict:
    """`NAME=VALUE` strings to TrainerConfig fields, converted to each field's type."""
    types = {field.name: field.type for field in dataclasses.fields(TrainerConfig)}
    options = {}
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        if name not in types:
            raise ValueError(f"unknown Trainer setting {name!r} in {assignment!r}; "
                             f"choose from {sorted(types)}")
        if types[name] == "bool":
            options[name] = value.lower() in ("1", "true", "yes")
        else:
            convert = {"int": int, "float": float}.get(types[name], str)
            try:
                options[name] = convert(value)
            except ValueError:
                raise ValueError(f"{name} takes a number ({types[name]}), got {value!r}") from None
    return options


# Settings whose name in error messages is not their flag's name.
# Names in settings' messages whose flag is spelled differently.
MESSAGE_SETTINGS = {"fid_num_samples": "fid_samples", "baseline_tolerance": "fid_tolerance",
                 "max_pixels": "max_image_pixels", "image size": "image_size",
                 "train fraction": "train_fraction", "channel range": "channels",
                 "side range": "min_image_side"}


def name_the_flag(message: str, args: argparse.Namespace) -> str:
    """A settings error as the user typed it: `--flag value: message`.

    The flag is the one whose setting the message names (the longest such name);
    Trainer settings set by a `--trainer-option` are named as that option.
    """
    for assignment in args.trainer_option:
        if _names(assignment.partition("=")[0], message):
            return f"--trainer-option {assignment}: {message}"
    names = {name: name for name in vars(args)} | MESSAGE_SETTINGS
    for name in sorted(names, key=len, reverse=True):
        if _names(name, message):
            dest = names[name]
            return f"--{dest.replace('_', '-')} {getattr(args, dest)}: {message}"
    return message


def _names(setting: str, message: str) -> bool:
    return re.search(rf"\b{re.escape(setting)}\b", message) is not None
