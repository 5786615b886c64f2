"""The FID evaluation component: blesses the trained generator or rejects it."""
import os

from components import fid_evaluation
from components.quality_gate import GateConfig
from components.tfx_types import (SERVING_MODEL_SUBDIR, InputArtifact, OutputArtifact, Parameter,
                                  artifacts, component)
from modules.metrics import AUTO_EXTRACTOR

# Measurements copied onto the evaluation artifact, when they could be computed.
EVALUATION_PROPERTIES = ("fid", "fid_ratio", "fid_real_floor", "kid_mean", "precision",
                         "recall", "inception_score")


@component
def FidEvaluator(
    transformed_examples: InputArtifact[artifacts.Examples],
    transform_graph: InputArtifact[artifacts.TransformGraph],
    model: InputArtifact[artifacts.Model],
    evaluation: OutputArtifact[artifacts.ModelEvaluation],
    blessing: OutputArtifact[artifacts.ModelBlessing],
    gate: Parameter[str],
    num_samples: Parameter[int],
    seed: Parameter[int] = 0,
    extractor: Parameter[str] = AUTO_EXTRACTOR,
    extractor_path: Parameter[str] = "",
    cache_dir: Parameter[str] = "",
    serving_dir: Parameter[str] = "",
    compressed_precisions: Parameter[str] = "",
    code_version: Parameter[str] = "",
) -> None:
    """Scores `num_samples` generated images against the eval split (FID in units of the
    real-vs-real floor, KID, precision/recall, the classifier score) and blesses the model
    when every condition of `gate` (a `quality_gate.GateConfig` as JSON) holds, including
    not being worse than the generator served from `serving_dir`.

    Writes `metrics.json`, sample grids and `report.html` into `evaluation`, and a
    `blessing` that Pusher accepts (custom property `blessed` = 1) carrying the decision:
    which condition decided, and why. A metric that could not be computed is absent from
    the properties (ML Metadata cannot store NaN). `compressed_precisions`
    ("float16,int8"): reduced-precision copies of the generator written into `evaluation`
    and scored the same way (`metrics.json`'s "compressed"). `code_version` only keys the
    cache to our code.
    """
    del code_version
    config = fid_evaluation.EvaluationConfig(
        gate=GateConfig.from_json(gate), num_samples=num_samples, seed=seed,
        extractor=extractor, extractor_path=extractor_path, cache_dir=cache_dir,
        serving_dir=serving_dir,
        compressed_precisions=tuple(p for p in compressed_precisions.split(",") if p))
    result = fid_evaluation.evaluate(
        transformed_examples.uri, transform_graph.uri,
        os.path.join(model.uri, SERVING_MODEL_SUBDIR), config, evaluation.uri)
    fid_evaluation.write_blessing(blessing.uri, result.blessed)
    blessing.set_int_custom_property("blessed", int(result.blessed))
    blessing.set_string_custom_property("deciding_condition", result.deciding_condition)
    blessing.set_string_custom_property("reason", result.reason)
    blessing.set_string_custom_property("gate", gate)
    if result.baseline_fid is not None:
        blessing.set_float_custom_property("baseline_fid", result.baseline_fid)
        blessing.set_int_custom_property("baseline_version", result.baseline_version)
    for name in EVALUATION_PROPERTIES:
        value = getattr(result, name)
        if value is not None:
            blessing.set_float_custom_property(name, value)
            evaluation.set_float_custom_property(name, value)
