"""Every pipeline setting in one place, with the defaults `make run` uses."""
from __future__ import annotations

import dataclasses
import os
import pathlib

from components.ingest_config import (DEFAULT_MAX_PIXELS, DEFAULT_MAX_REJECTED_FRACTION,
                                      IngestOptions, IngestSettings)
from components.schema_rules import DataExpectations
from modules.features import COMPRESSED_PRECISIONS
from modules.images import MIN_IMAGE_SIZE, ImageSpec
from components.quality_gate import GateConfig
from modules.metrics import AUTO_EXTRACTOR, FID_EXTRACTOR_CHOICES, PATH_EXTRACTORS
from modules.training_config import (CHECKPOINT_ROOT_KEY, CODE_VERSION_KEY, FID_CACHE_KEY,
                                     TRAINING_CODE_VERSION_KEY, TrainerConfig)
from pipeline.code_version import code_version

PIPELINE_NAME = "gan-pipeline"
PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data" / "digits"
DEFAULT_OUTPUT_DIR = PROJECT_ROOT / "outputs"
DEFAULT_SERVING_DIR = DEFAULT_OUTPUT_DIR / "serving_model"

PREPROCESSING_FN = "modules.preprocessing.preprocessing_fn"
RUN_FN = "modules.trainer.run_fn"
# The code each stage runs (see `pipeline.code_version`): its cache key.
INGEST_MODULE = "components.image_example_gen"
VALIDATION_MODULE = "components.data_validation"
EVALUATION_MODULE = "components.fid_evaluator"
PUSH_MODULE = "components.generator_pusher"
# Exporting does not change training: editing it keeps the checkpoints.
NOT_TRAINING_MODULES = ("modules.export",)


def module_of(function_path: str) -> str:
    return function_path.rpartition(".")[0]


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """What one pipeline run needs; validated when built, before any component runs."""

    data_dir: str = str(DEFAULT_DATA_DIR)
    output_dir: str = str(DEFAULT_OUTPUT_DIR)
    serving_dir: str = str(DEFAULT_SERVING_DIR)
    # "images": a folder of images; "tfrecord": of tf.Example files; "tfds": a TFDS
    # dataset prepared in data_dir (its TFDS data_dir)
    input_format: str = "images"
    image_feature: str = "image"          # the encoded-image feature of TFRecord and TFDS input
    label_feature: str = "label"          # the label feature of TFRecord and TFDS input ("": none)
    tfds_name: str = ""                   # e.g. "mnist", "mnist:3.0.1", "dataset/config"
    tfds_splits: tuple[str, ...] = ()     # TFDS splits to read (pooled); empty: all
    train_fraction: float = 0.8
    image_size: int = 8
    channels: int = 1
    fit: str = "center-crop"              # non-square images: "center-crop" or "pad" (black)
    max_image_pixels: int = DEFAULT_MAX_PIXELS              # larger images are rejected
    max_rejected_fraction: float = DEFAULT_MAX_REJECTED_FRACTION  # more rejected: run fails
    min_image_side: int = MIN_IMAGE_SIZE  # source sizes outside [min, max] stop the run
    max_image_side: int = 8192
    train_steps: int = 6000
    fid_num_samples: int = 1000
    fid_extractor: str = AUTO_EXTRACTOR   # or one of FID_EXTRACTORS
    fid_extractor_path: str = ""          # Inception weights / extractor model (path or URL)
    gate: GateConfig = GateConfig()       # what a generator must reach to be blessed
    keep_versions: int = 5                # pushed versions kept in serving_dir
    # Reduced-precision copies of the generator ("float16", "int8"), each scored beside the
    # float32 one and pushed to serving_dir/<precision>/ when its FID is at most the float32
    # FID * (1 + compressed_fid_tolerance). Empty: none.
    compressed_precisions: tuple[str, ...] = ()
    compressed_fid_tolerance: float = 0.05
    # `make run`'s training choices (see README, "Training"): an averaged generator, a
    # lower learning rate than DCGAN's 2e-4 (steadier on the small digits, where EMA then
    # averages less noise), and the best snapshot by a cheap FID every 500 steps, scored
    # on as many samples as the FidEvaluator uses, is what gets exported.
    trainer: TrainerConfig = TrainerConfig(ema_decay=0.999, generator_learning_rate=1e-4,
                                           discriminator_learning_rate=1e-4,
                                           fid_every_steps=500, fid_samples=1000)
    beam_pipeline_args: tuple[str, ...] = ("--runner=FnApiRunner",)
    enable_cache: bool = True

    def __post_init__(self):
        self.ingest_options()
        self.data_expectations()
        if not 0 < self.train_fraction < 1:
            raise ValueError(f"train_fraction must be between 0 and 1, got {self.train_fraction}")
        if self.train_steps < 1:
            raise ValueError(f"train_steps must be at least 1, got {self.train_steps}")
        if self.fid_extractor not in FID_EXTRACTOR_CHOICES:
            raise ValueError(f"fid_extractor (--fid-extractor) must be one of "
                             f"{FID_EXTRACTOR_CHOICES}, got {self.fid_extractor!r}")
        if self.fid_extractor in PATH_EXTRACTORS and not self.fid_extractor_path:
            raise ValueError(f"the {self.fid_extractor} FID extractor needs fid_extractor_path "
                             f"(--fid-extractor-path)")
        unknown = set(self.compressed_precisions) - set(COMPRESSED_PRECISIONS)
        if unknown:
            raise ValueError(f"compressed_precisions (--compressed-precisions) must be among "
                             f"{COMPRESSED_PRECISIONS}, got {sorted(unknown)}")
        if self.compressed_fid_tolerance < 0:
            raise ValueError("compressed_fid_tolerance (--compressed-fid-tolerance) must be >= 0")
        if self.keep_versions < 1:
            raise ValueError(f"keep_versions must be at least 1, got {self.keep_versions}")
        if self.fid_num_samples < 2:
            raise ValueError(f"fid_num_samples must be at least 2, got {self.fid_num_samples}")

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output_dir, "pipeline_root")

    @property
    def fid_cache_dir(self) -> str:
        return os.path.join(self.output_dir, "fid_cache")

    @property
    def checkpoint_root(self) -> str:
        """Outlives Trainer executions, so a re-run after preemption resumes from here."""
        return os.path.join(self.output_dir, "checkpoints")

    @property
    def report_dir(self) -> str:
        """Ingestion reports, kept where a failed run does not delete them."""
        return os.path.join(self.output_dir, "reports")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.output_dir, "metadata.sqlite")

    def trainer_custom_config(self) -> dict:
        """The Trainer's `custom_config`: its own settings plus the image shape and the FID
        extractor (its snapshot selection scores with the FidEvaluator's), and where its
        checkpoints and the FID cache (shared with the FidEvaluator) live."""
        settings = dataclasses.asdict(self.trainer)
        trainer = module_of(RUN_FN)
        settings.update(image_size=self.image_size, channels=self.channels,
                        fid_extractor=self.fid_extractor,
                        **{CODE_VERSION_KEY: code_version(trainer),
                           TRAINING_CODE_VERSION_KEY: code_version(
                               trainer, exclude=NOT_TRAINING_MODULES),
                           CHECKPOINT_ROOT_KEY: self.checkpoint_root,
                           FID_CACHE_KEY: self.fid_cache_dir})
        return settings

    def transform_custom_config(self) -> dict:
        return {"image_size": self.image_size, "channels": self.channels,
                CODE_VERSION_KEY: code_version(module_of(PREPROCESSING_FN))}

    def ingest_options(self) -> IngestOptions:
        return IngestOptions(
            settings=IngestSettings(ImageSpec(self.image_size, self.channels), self.fit,
                                    self.max_image_pixels),
            input_format=self.input_format, image_feature=self.image_feature,
            label_feature=self.label_feature, tfds_name=self.tfds_name,
            tfds_splits=self.tfds_splits, max_rejected_fraction=self.max_rejected_fraction,
            report_dir=self.report_dir)

    def data_expectations(self) -> DataExpectations:
        """The schema's channel and size ranges (see `components.schema_rules`)."""
        return DataExpectations.for_channels(self.channels, self.min_image_side,
                                             self.max_image_side)

