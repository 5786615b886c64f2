"""Every pipeline setting in one place, with the defaults `make run` uses."""
from __future__ import annotations

import dataclasses
import os
import pathlib

from components.ingest.settings import IngestOptions, IngestSettings
from components.push.settings import PushSettings
from components.evaluation.gate import EvaluationSettings
from components.validation.schema_rules import DataExpectations, ValidationSettings
from modules.images import IMAGE_KEY, ImageSpec
from modules.training.config import (CHECKPOINT_ROOT_KEY, CODE_VERSION_KEY, FID_CACHE_KEY,
                                     TRAINING_CODE_VERSION_KEY, TrainerConfig)
from pipeline.code_version import code_version

PIPELINE_NAME = "gan-pipeline"
PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data" / "digits"
DEFAULT_OUTPUT_DIR = PROJECT_ROOT / "outputs"
DEFAULT_SERVING_DIR = DEFAULT_OUTPUT_DIR / "serving_model"

PREPROCESSING_FN = "modules.preprocessing.preprocessing_fn"
RUN_FN = "modules.training.trainer.run_fn"
# The code each stage runs (see `pipeline.code_version`): its cache key.
INGEST_MODULE = "components.ingest.component"
VALIDATION_MODULE = "components.validation.component"
EVALUATION_MODULE = "components.evaluation.component"
PUSH_MODULE = "components.push.component"
# Exporting does not change training: editing it keeps the checkpoints.
NOT_TRAINING_MODULES = ("modules.export",)


def module_of(function_path: str) -> str:
    return function_path.rpartition(".")[0]


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """What one pipeline run needs: the folders, one settings class per stage (each with
    its defaults and checks, and a flag per setting: see `pipeline.flags`), and the image
    shape they share. Validated when built, before any component runs."""

    data_dir: str = str(DEFAULT_DATA_DIR)
    output_dir: str = str(DEFAULT_OUTPUT_DIR)
    serving_dir: str = str(DEFAULT_SERVING_DIR)
    image: ImageSpec = ImageSpec()
    ingest: IngestSettings = IngestSettings()
    validation: ValidationSettings = ValidationSettings()
    # The widths, batch, learning rates, EMA, DiffAugment and step budget are chosen from
    # the data when training starts (`modules.training.plan`); the best snapshot by a cheap
    # FID every 500 steps, on as many samples as the FidEvaluator scores, is exported.
    training: TrainerConfig = TrainerConfig(
        fid_every_steps=500, selection_samples=EvaluationSettings.fid_num_samples)
    evaluation: EvaluationSettings = EvaluationSettings()
    push: PushSettings = PushSettings()
    beam_pipeline_args: tuple[str, ...] = ("--runner=FnApiRunner",)
    enable_cache: bool = True

    def __post_init__(self):
        # The Trainer's copies of other stages' settings follow them (they have no flag).
        object.__setattr__(self, "training", dataclasses.replace(
            self.training, image_size=self.image.size, channels=self.image.channels,
            fid_extractor=self.evaluation.extractor))

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
        """The Trainer's `custom_config`: its settings, the code versions, and where its
        checkpoints and the FID cache (shared with the FidEvaluator) live."""
        trainer = module_of(RUN_FN)
        return {**self.training.to_custom_config(),
                CODE_VERSION_KEY: code_version(trainer),
                TRAINING_CODE_VERSION_KEY: code_version(trainer, exclude=NOT_TRAINING_MODULES),
                CHECKPOINT_ROOT_KEY: self.checkpoint_root, FID_CACHE_KEY: self.fid_cache_dir}

    def transform_custom_config(self) -> dict:
        return {IMAGE_KEY: self.image.to_json(),
                CODE_VERSION_KEY: code_version(module_of(PREPROCESSING_FN))}

    def ingest_options(self) -> IngestOptions:
        return IngestOptions(self.image, self.ingest, self.report_dir)

    def data_expectations(self) -> DataExpectations:
        """The schema's channel and size ranges (see `components.validation.schema_rules`)."""
        return DataExpectations.for_channels(self.image.channels, self.validation)
