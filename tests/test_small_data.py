"""Small data is a decision, never a crash: with 47 labeled images (fewer than the domain
classifier's 128 feature dimensions in either split), the Trainer's run_fn refuses before
training (input whose split sizes only ingest learns, such as TFRecords, reaches it), and
the FidEvaluator's executor, given a generator anyway, records "not blessed" with the
reason, stores its artifacts in ML Metadata (SQLite) without NaN, and leaves the metrics it
could not compute absent."""
import json
import os

import pytest

from components.evaluation.gate import EvaluationSettings
from components.evaluation.result import EvaluationResult
from modules.training.config import CHECKPOINT_ROOT_KEY, TrainerConfig
from modules.training.trainer import run_fn
from tests.test_trainer_run_fn import fn_args
from tests.training_worker import TINY
from tests.transform_output import write_transform_output


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    return write_transform_output(str(tmp_path_factory.mktemp("transform")), count=47)


def store_artifacts(path: str, artifacts) -> dict:
    """Puts TFX artifacts into a real ML Metadata SQLite store; returns them as stored."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = path
    connection.sqlite.connection_mode = \
        metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    store = metadata_store.MetadataStore(connection)
    for artifact in artifacts:
        artifact.mlmd_artifact.type_id = store.put_artifact_type(artifact.artifact_type)
    ids = store.put_artifacts([artifact.mlmd_artifact for artifact in artifacts])
    return {artifact.type_name: stored
            for artifact, stored in zip(artifacts, store.get_artifacts_by_id(ids))}


def test_the_trainer_refuses_an_eval_split_too_small_for_fid_before_training(transformed,
                                                                             tmp_path):
    args = fn_args(transformed, tmp_path, 20,
                   **{CHECKPOINT_ROOT_KEY: str(tmp_path / "checkpoints")})
    with pytest.raises(ValueError, match=r"^--train-fraction: the eval split has \d+ images, and "
                                         r"FID with the domain_classifier extractor \(128-d "
                                         r"features\) needs more than 128; add images"):
        run_fn(args)
    assert not os.path.exists(tmp_path / "checkpoints")  # refused before any training
    with pytest.raises(ValueError, match=r"^--fid-extractor domain_classifier needs labeled "
                                         r"images of at least two classes, but the training "
                                         r"split has 0"):
        run_fn(fn_args(unlabeled_47(tmp_path), tmp_path, 20,
                       fid_extractor="domain_classifier"))


def unlabeled_47(tmp_path):
    return write_transform_output(str(tmp_path / "unlabeled"), count=47, labeled=False)


def test_the_evaluator_refuses_47_images_with_the_reason(transformed, tmp_path):
    from tfx import v1 as tfx

    from components.evaluation.component import FidEvaluator
    from components.tfx_types import SERVING_MODEL_SUBDIR
    from modules.export import export_generator
    from modules.training.networks import build_generator

    config = TrainerConfig(**TINY)
    model_uri = tmp_path / "model"
    export_generator(build_generator(config.image_spec, config.network_config),
                     str(model_uri / SERVING_MODEL_SUBDIR), {"latent_dim": config.latent_dim})

    examples_uri, graph_uri = transformed
    inputs = {}
    for key, artifact_type, uri in (
            ("transformed_examples", tfx.types.standard_artifacts.Examples, examples_uri),
            ("transform_graph", tfx.types.standard_artifacts.TransformGraph, graph_uri),
            ("model", tfx.types.standard_artifacts.Model, str(model_uri))):
        artifact = artifact_type()
        artifact.uri = uri
        inputs[key] = [artifact]
    evaluation = tfx.types.standard_artifacts.ModelEvaluation()
    evaluation.uri = str(tmp_path / "evaluation")
    blessing = tfx.types.standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing")
    executor = FidEvaluator.EXECUTOR_SPEC.executor_class()
    executor.Do(inputs, {"evaluation": [evaluation], "blessing": [blessing]},
                {"settings": EvaluationSettings().to_json(), "seed": 0,
                 "cache_dir": str(tmp_path / "fid_cache")})

    with open(tmp_path / "evaluation" / "metrics.json") as source:
        text = source.read()
    assert "NaN" not in text
    result = EvaluationResult.from_json(text)
    assert not result.blessed and result.deciding_condition == "max_fid_ratio"
    assert "FID could not be computed in floor units: FID needs more samples than the 128 " \
           "feature dimensions" in result.reason
    assert result.fid is None and result.fid_ratio is None and json.loads(text)["fid"] is None
    assert result.num_real_eval < 128 and result.precision is not None  # still reported
    assert os.path.isfile(tmp_path / "blessing" / "NOT_BLESSED")

    stored = store_artifacts(str(tmp_path / "metadata.sqlite"), [blessing, evaluation])
    properties = stored["ModelBlessing"].custom_properties
    assert properties["blessed"].int_value == 0
    assert properties["deciding_condition"].string_value == "max_fid_ratio"
    assert "FID needs more samples" in properties["reason"].string_value
    assert "fid" not in properties and "fid_ratio" not in properties
    assert "precision" in stored["ModelEvaluation"].custom_properties
