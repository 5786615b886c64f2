"""What ingest needs to know: the source, how images are normalized, and its bounds.

Free of TFX, Beam and Pillow, so `pipeline.configs` can build it cheaply; it
travels to the executor as ExampleGen's `custom_config` (see `to_dict`).
"""
from __future__ import annotations

import dataclasses

from modules.images import ImageSpec

INPUT_FORMATS = ("images", "tfrecord", "tfds")
FIT_MODES = ("center-crop", "pad")
DEFAULT_MAX_PIXELS = 8192 * 8192
DEFAULT_MAX_REJECTED_FRACTION = 0.1


@dataclasses.dataclass(frozen=True)
class IngestSettings:
    """How every image is normalized, and the pixel count above which it is refused."""

    spec: ImageSpec = ImageSpec()
    fit: str = "center-crop"        # non-square images: "center-crop" or "pad" (black)
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self):
        if self.fit not in FIT_MODES:
            raise ValueError(f"fit must be one of {FIT_MODES}, got {self.fit!r}")
        if self.max_pixels < 1:
            raise ValueError(f"max_pixels must be positive, got {self.max_pixels}")


@dataclasses.dataclass(frozen=True)
class IngestOptions:
    """One ingest job: where the images come from, how they are normalized, what fails it."""

    settings: IngestSettings = IngestSettings()
    # "images": a folder of files; "tfrecord": a folder of tf.Example files; "tfds": a
    # TFDS dataset prepared in the folder (its `data_dir`)
    input_format: str = "images"
    image_feature: str = "image"    # the encoded-image feature of TFRecord and TFDS input
    label_feature: str = "label"    # the label feature of TFRecord and TFDS input ("": none)
    tfds_name: str = ""             # as `tfds.builder` takes it: "mnist", "mnist/config:1.0.0"
    tfds_splits: tuple[str, ...] = ()   # TFDS splits to read, pooled; empty: every split
    max_rejected_fraction: float = DEFAULT_MAX_REJECTED_FRACTION
    # where a time-stamped copy of each ingestion report is kept ("": the artifact only); it
    # outlives a failed run, whose outputs the orchestrator deletes
    report_dir: str = ""

    def __post_init__(self):
        if self.input_format not in INPUT_FORMATS:
            raise ValueError(f"input_format must be one of {INPUT_FORMATS}, "
                             f"got {self.input_format!r}")
        if (self.input_format == "tfds") != bool(self.tfds_name):
            raise ValueError("a TFDS dataset name goes with input_format 'tfds', and only there")
        if self.tfds_splits and self.input_format != "tfds":
            raise ValueError("TFDS splits go with input_format 'tfds' only")
        if not 0 <= self.max_rejected_fraction <= 1:
            raise ValueError("max_rejected_fraction must be between 0 and 1, "
                             f"got {self.max_rejected_fraction}")

    def describe_source(self, input_base: str) -> str:
        """How messages name the input: the folder, or the TFDS dataset prepared in it."""
        if self.input_format == "tfds":
            return f"TFDS dataset {self.tfds_name!r} in {input_base}"
        return input_base

    def to_dict(self) -> dict:
        return {"image_size": self.settings.spec.size, "channels": self.settings.spec.channels,
                "fit": self.settings.fit, "max_pixels": self.settings.max_pixels,
                "input_format": self.input_format, "image_feature": self.image_feature,
                "label_feature": self.label_feature, "tfds_name": self.tfds_name,
                "tfds_splits": list(self.tfds_splits),
                "max_rejected_fraction": self.max_rejected_fraction,
                "report_dir": self.report_dir}

    @classmethod
    def from_dict(cls, values: dict) -> "IngestOptions":
        """Inverse of `to_dict`; numbers may arrive as floats (a protobuf Struct has no ints)."""
        spec = ImageSpec(int(values["image_size"]), int(values["channels"]))
        return cls(settings=IngestSettings(spec, values["fit"], int(values["max_pixels"])),
                   input_format=values["input_format"], image_feature=values["image_feature"],
                   label_feature=values["label_feature"], tfds_name=values["tfds_name"],
                   tfds_splits=tuple(values["tfds_splits"]),
                   max_rejected_fraction=float(values["max_rejected_fraction"]),
                   report_dir=values.get("report_dir", ""))
