"""The schema carries what the pipeline expects; a run whose data breaks it stops before Transform."""
import dataclasses

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2

from components.ingest.settings import IngestSettings
from components.validation.schema_rules import (DataExpectations, ValidationSettings,
                                                constrain_schema, describe_anomalies)
from tests.image_files import encode, noise
from modules import features
from modules.images import ImageSpec
from pipeline import configs


def test_schema_gets_channel_and_size_ranges_presence_and_non_empty_splits():
    inferred = schema_pb2.Schema()
    inferred.feature.add(name=features.CHANNELS, type=schema_pb2.INT,
                         lifecycle_stage=schema_pb2.DEPRECATED)
    inferred.feature.add(name="extra", type=schema_pb2.FLOAT)
    schema = constrain_schema(inferred,
                              DataExpectations.for_channels(1, ValidationSettings(8, 4096)))
    by_name = {feature.name: feature for feature in schema.feature}
    assert (by_name[features.CHANNELS].int_domain.min,
            by_name[features.CHANNELS].int_domain.max) == (1, 1)
    for name in (features.HEIGHT, features.WIDTH):
        assert (by_name[name].int_domain.min, by_name[name].int_domain.max) == (8, 4096)
        assert by_name[name].type == schema_pb2.INT
    assert by_name[features.IMAGE].type == schema_pb2.BYTES
    assert all(by_name[name].presence.min_fraction == 1.0 for name in (
        features.IMAGE, features.LABEL, features.PATH, features.CHANNELS))
    assert not by_name[features.CHANNELS].HasField("lifecycle_stage")
    assert by_name["extra"].type == schema_pb2.FLOAT
    assert schema.dataset_constraints.min_examples_count == 1
    assert not inferred.feature[0].HasField("int_domain")  # the input is left as it was
    assert DataExpectations.for_channels(3, ValidationSettings(8, 64)).max_channels == 3


def test_anomalies_are_described_by_feature():
    anomalies = anomalies_pb2.Anomalies()
    anomalies.anomaly_info["channels"].short_description = "Out-of-range values"
    anomalies.anomaly_info["channels"].description = "Unexpectedly large value: 3."
    anomalies.dataset_anomaly_info.short_description = "Low num examples in dataset."
    assert describe_anomalies(anomalies) == [
        "channels: Out-of-range values (Unexpectedly large value: 3.)",
        "dataset: Low num examples in dataset."]
    assert describe_anomalies(anomalies_pb2.Anomalies()) == []


@pytest.mark.e2e
def test_colour_images_stop_a_grayscale_run_before_transform(tmp_path, monkeypatch):
    from ml_metadata.proto import metadata_store_pb2

    from tests.metadata_store import node_executions
    from pipeline import preflight, run_local

    # The runner's preflight refuses an eval split this small before the pipeline starts
    # (and ingest refuses an empty split); the gate is what is tested here.
    monkeypatch.setattr(preflight, "check", lambda config: None)

    data = tmp_path / "images"
    for label in ("a", "b"):
        (data / label).mkdir(parents=True)
        for index in range(10):
            (data / label / f"{index}.png").write_bytes(encode(noise((8, 8, 3), index), "PNG"))
    config = configs.PipelineConfig(
        data_dir=str(data), output_dir=str(tmp_path / "out"), serving_dir=str(tmp_path / "serve"),
        image=ImageSpec(channels=1), ingest=IngestSettings(train_fraction=0.5),
        training=dataclasses.replace(configs.PipelineConfig.training, train_steps=1))

    with pytest.raises(Exception) as failure:
        run_local.run(config, runner="local")

    message = str(failure.value)
    assert "split train: channels: Out-of-range values (Unexpectedly large value: 3.)" in message
    assert "split eval: channels: Out-of-range values" in message
    _, executions = node_executions(config.metadata_path)
    assert "Transform" not in executions and "Trainer" not in executions
    assert executions["AnomaliesGate"][-1].last_known_state == (
        metadata_store_pb2.Execution.FAILED)
