"""What the data must look like, written into the schema, and the anomalies that break it.

SchemaGen infers a schema from each run's statistics, so it would accept
whatever a run brings. `constrain_schema` pins what the pipeline was configured
for: the colour channels it accepts, the range of image sizes, every feature
present in every example, and at least one example in each split. ExampleValidator
then flags a run that breaks them, and `describe_anomalies` names what it found.
Free of TFX, so it is unit-testable on its own.
"""
from __future__ import annotations

import dataclasses

from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2

from modules import features
from modules.images import MIN_IMAGE_SIZE
from modules.settings import Settings, setting

# Written for every ingested image, each present in every example.
REQUIRED_FEATURES = {
    features.IMAGE: schema_pb2.BYTES, features.HEIGHT: schema_pb2.INT,
    features.WIDTH: schema_pb2.INT, features.CHANNELS: schema_pb2.INT,
    features.FORMAT: schema_pb2.BYTES, features.LABEL: schema_pb2.BYTES,
    features.PATH: schema_pb2.BYTES,
}


@dataclasses.dataclass(frozen=True)
class ValidationSettings(Settings):
    """The validation stage's settings: the source image sizes a run accepts."""

    min_side: int = setting(MIN_IMAGE_SIZE, alias="--min-image-side",
                            help="smaller source images (height or width, in pixels) stop "
                                 "the run")
    max_side: int = setting(8192, alias="--max-image-side",
                            help="larger source images (height or width, in pixels) stop the "
                                 "run")

    def __post_init__(self):
        if self.min_side < 1:
            raise ValueError(f"min_side must be at least 1, got {self.min_side}")
        if self.max_side < self.min_side:
            raise ValueError(f"max_side must be at least min_side ({self.min_side}), "
                             f"got {self.max_side}")


@dataclasses.dataclass(frozen=True)
class DataExpectations(Settings):
    """The ranges a run's images must fall in: what `ConstrainedSchema` is given."""

    min_channels: int       # colour channels of the source images (1 gray, 3 colour)
    max_channels: int
    sides: ValidationSettings = ValidationSettings()  # source height and width, in pixels

    def __post_init__(self):
        if not 1 <= self.min_channels <= self.max_channels <= 3:
            raise ValueError(f"channel range must lie in [1, 3], got "
                             f"[{self.min_channels}, {self.max_channels}]")

    @classmethod
    def for_channels(cls, channels: int, sides: ValidationSettings) -> "DataExpectations":
        """A grayscale pipeline accepts only grayscale sources; a colour one accepts both.

        Folding colour photos into gray is almost always a wrong folder or a
        wrong `--channels`, so it stops the run instead of training on it.
        """
        return cls(1, 1 if channels == 1 else 3, sides)


def constrain_schema(schema: schema_pb2.Schema,
                     expectations: DataExpectations) -> schema_pb2.Schema:
    """A copy of `schema` with the expected domains, presence and example counts."""
    constrained = schema_pb2.Schema()
    constrained.CopyFrom(schema)
    by_name = {feature.name: feature for feature in constrained.feature}
    for name, feature_type in REQUIRED_FEATURES.items():
        if name not in by_name:  # SchemaGen saw no example at all
            by_name[name] = constrained.feature.add(name=name, type=feature_type)
        by_name[name].presence.min_fraction = 1.0
        by_name[name].presence.min_count = 1
        # SchemaGen deprecates (stops validating) features some split lacks, e.g. an empty one.
        by_name[name].ClearField("lifecycle_stage")
    by_name[features.CHANNELS].int_domain.min = expectations.min_channels
    by_name[features.CHANNELS].int_domain.max = expectations.max_channels
    for name in (features.HEIGHT, features.WIDTH):
        by_name[name].int_domain.min = expectations.sides.min_side
        by_name[name].int_domain.max = expectations.sides.max_side
    constrained.dataset_constraints.min_examples_count = 1
    return constrained


def describe_anomalies(anomalies: anomalies_pb2.Anomalies) -> list[str]:
    """One line per anomaly: the feature (or "dataset") and what is wrong with it."""
    lines = [f"{name}: {_describe(info)}" for name, info in sorted(anomalies.anomaly_info.items())]
    if anomalies.HasField("dataset_anomaly_info"):
        lines.append(f"dataset: {_describe(anomalies.dataset_anomaly_info)}")
    if anomalies.data_missing:
        lines.append("dataset: no data (the split is empty)")
    return lines


def _describe(info: anomalies_pb2.AnomalyInfo) -> str:
    return f"{info.short_description} ({info.description})" if info.description else (
        info.short_description)
