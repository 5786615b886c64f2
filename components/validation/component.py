"""Two small components around ExampleValidator: the configured schema, and the gate.

`ConstrainedSchema` writes SchemaGen's inferred schema with the pipeline's
expectations pinned (see `schema_rules`). ExampleValidator only records the
anomalies it finds; `AnomaliesGate` fails the run when there are any, naming
them, and otherwise passes the schema on, so Transform (which reads the gate's
schema) cannot start on data that broke it.
"""
import os

from absl import logging
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2
from tfx import v1 as tfx

from components.validation import schema_rules

# Where SchemaGen and ExampleValidator put their protos inside their artifacts.
SCHEMA_FILE = "schema.pbtxt"
ANOMALIES_PATTERN = "Split-*/*.pb"

InputArtifact = tfx.dsl.components.InputArtifact
OutputArtifact = tfx.dsl.components.OutputArtifact
Parameter = tfx.dsl.components.Parameter
artifacts = tfx.types.standard_artifacts


class DataValidationError(RuntimeError):
    """ExampleValidator found anomalies: the data does not match the schema."""


def _read_schema(uri: str) -> schema_pb2.Schema:
    with tf.io.gfile.GFile(os.path.join(uri, SCHEMA_FILE)) as source:
        return text_format.Parse(source.read(), schema_pb2.Schema())


def _write_schema(uri: str, schema: schema_pb2.Schema) -> None:
    with tf.io.gfile.GFile(os.path.join(uri, SCHEMA_FILE), "w") as target:
        target.write(text_format.MessageToString(schema))


@tfx.dsl.components.component
def ConstrainedSchema(
    schema: InputArtifact[artifacts.Schema],
    constrained_schema: OutputArtifact[artifacts.Schema],
    expectations: Parameter[str],
    code_version: Parameter[str] = "",
) -> None:
    """The inferred schema plus the channel and size ranges (`expectations`, a
    `schema_rules.DataExpectations` as JSON), presence and non-empty splits.

    `code_version` only keys the cache to our code.
    """
    del code_version
    _write_schema(constrained_schema.uri,
                  schema_rules.constrain_schema(
                      _read_schema(schema.uri),
                      schema_rules.DataExpectations.from_json(expectations)))


@tfx.dsl.components.component
def AnomaliesGate(
    anomalies: InputArtifact[artifacts.ExampleAnomalies],
    schema: InputArtifact[artifacts.Schema],
    validated_schema: OutputArtifact[artifacts.Schema],
) -> None:
    """Raises `DataValidationError` naming every anomaly; else passes `schema` through."""
    paths = sorted(tf.io.gfile.glob(os.path.join(anomalies.uri, ANOMALIES_PATTERN)))
    if not paths:
        raise DataValidationError(f"No anomalies file in {anomalies.uri}: cannot tell the "
                                  "data is valid")
    found = []
    for path in paths:
        with tf.io.gfile.GFile(path, "rb") as source:
            split_anomalies = anomalies_pb2.Anomalies.FromString(source.read())
        split = os.path.basename(os.path.dirname(path))[len("Split-"):]
        found += [f"split {split}: {line}"
                  for line in schema_rules.describe_anomalies(split_anomalies)]
    if found:
        message = ("ExampleValidator found anomalies; the run stops before Transform and "
                   "training:\n  " + "\n  ".join(found))
        logging.error(message)
        raise DataValidationError(message)
    _write_schema(validated_schema.uri, _read_schema(schema.uri))
