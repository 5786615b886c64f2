"""What ingest needs to know: the source, how images are normalized, and its bounds.

Free of TFX, Beam and Pillow, so `pipeline.configs` can build it cheaply; it
travels to the executor in ExampleGen's `custom_config` as JSON (see `IngestOptions`).
"""
from __future__ import annotations

import dataclasses

from modules.images import ImageSpec
from modules.settings import Settings, setting

INPUT_FORMATS = ("images", "tfrecord", "tfds")
FIT_MODES = ("center-crop", "pad")


@dataclasses.dataclass(frozen=True)
class IngestSettings(Settings):
    """The ingest stage's settings: where the images come from, how they are normalized,
    what fails the run, and how examples are split."""

    input_format: str = setting(
        "images", alias="--input-format", choices=INPUT_FORMATS,
        help="images: a folder of files (class subfolders become labels); tfrecord: a "
             "folder of tf.Example files; tfds: a TFDS dataset prepared in the data folder")
    image_feature: str = setting("image", alias="--image-feature",
                                 help="name of the encoded-image feature in TFRecord and "
                                      "TFDS input")
    label_feature: str = setting("label", alias="--label-feature",
                                 help="name of the label feature in TFRecord and TFDS input "
                                      "('' for unlabeled data)")
    tfds_name: str = setting("", alias="--tfds-name",
                             help="with input_format tfds: the dataset, as tfds.builder takes "
                                  "it (mnist, mnist:3.0.1, name/config)")
    tfds_splits: tuple[str, ...] = setting(
        (), alias="--tfds-split",
        help="with input_format tfds: a split to read, pooled with the others ('': every "
             "split)")
    fit: str = setting("center-crop", alias="--fit", choices=FIT_MODES,
                       help="how non-square images become square before resizing (pad: black)")
    max_pixels: int = setting(8192 * 8192, alias="--max-image-pixels",
                              help="images with more pixels are rejected before they are "
                                   "decoded")
    max_rejected_fraction: float = setting(0.1, alias="--max-rejected-fraction",
                                           help="ingest fails when a larger fraction of the "
                                                "inputs is rejected")
    train_fraction: float = setting(0.8, alias="--train-fraction",
                                    help="share of the examples in the train split (the "
                                         "rest is the eval split)")

    def __post_init__(self):
        if self.input_format not in INPUT_FORMATS:
            raise ValueError(f"input_format must be one of {INPUT_FORMATS}, "
                             f"got {self.input_format!r}")
        if (self.input_format == "tfds") != bool(self.tfds_name):
            raise ValueError("a TFDS dataset name goes with input_format 'tfds', and only there")
        if self.tfds_splits and self.input_format != "tfds":
            raise ValueError("TFDS splits go with input_format 'tfds' only")
        if self.fit not in FIT_MODES:
            raise ValueError(f"fit must be one of {FIT_MODES}, got {self.fit!r}")
        if self.max_pixels < 1:
            raise ValueError(f"max_pixels must be positive, got {self.max_pixels}")
        if not 0 <= self.max_rejected_fraction <= 1:
            raise ValueError("max_rejected_fraction must be between 0 and 1, "
                             f"got {self.max_rejected_fraction}")
        if not 0 < self.train_fraction < 1:
            raise ValueError(f"train_fraction must be between 0 and 1, got {self.train_fraction}")


@dataclasses.dataclass(frozen=True)
class IngestOptions(Settings):
    """One ingest job: the stage's settings, the pipeline's image shape, and where reports go."""

    spec: ImageSpec = ImageSpec()
    settings: IngestSettings = IngestSettings()
    # where a time-stamped copy of each ingestion report is kept ("": the artifact only); it
    # outlives a failed run, whose outputs the orchestrator deletes
    report_dir: str = ""

    def describe_source(self, input_base: str) -> str:
        """How messages name the input: the folder, or the TFDS dataset prepared in it."""
        if self.settings.input_format == "tfds":
            return f"TFDS dataset {self.settings.tfds_name!r} in {input_base}"
        return input_base
