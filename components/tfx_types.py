"""The `tfx.v1` annotations our function components use, in one place."""
from tfx import v1 as tfx

InputArtifact = tfx.dsl.components.InputArtifact
OutputArtifact = tfx.dsl.components.OutputArtifact
Parameter = tfx.dsl.components.Parameter
artifacts = tfx.types.standard_artifacts
component = tfx.dsl.components.component
# Where Trainer puts the serving model inside its Model artifact.
SERVING_MODEL_SUBDIR = "Format-Serving"
