"""The FID evaluation component: blesses the trained generator or rejects it."""
import os

from components.evaluation import scoring
from components.evaluation.gate import EvaluationConfig, EvaluationSettings
from components.tfx_types import (SERVING_MODEL_SUBDIR, InputArtifact, OutputArtifact, Parameter,
                                  artifacts, component)

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
    settings: Parameter[str],
    seed: Parameter[int] = 0,
    cache_dir: Parameter[str] = "",
    serving_dir: Parameter[str] = "",
    code_version: Parameter[str] = "",
) -> None:
    """Scores generated images against the eval split (FID in units of the real-vs-real
    floor, KID, precision/recall, the classifier score) and blesses the model when every
    condition of the gate holds, including not being worse than the generator served
    from `serving_dir`. `settings`: the `gate.EvaluationSettings` as JSON.

    Writes the record (`result.METRICS_FILE`), sample grids and the report into
    `evaluation`, and a `blessing` that Pusher accepts (custom property `blessed` = 1)
    carrying the decision: which condition decided, and why. A metric that could not be
    computed is absent from the properties (ML Metadata cannot store NaN). Both artifacts
    also record the feature extractor that scored the model, which lives outside the
    pipeline root: `extractor` (its identity; for a trained one, its key in the FID cache),
    `extractor_feature_dim`, `extractor_cache_dir` (the FID cache folder) and
    `extractor_holdout_accuracy` when known. The compressed precisions: reduced-precision
    copies of the generator written into `evaluation` and scored the same way (the
    record's `compressed`). `code_version` only keys the cache to our code.
    """
    del code_version
    config = EvaluationConfig(EvaluationSettings.from_json(settings), seed=seed,
                              cache_dir=cache_dir, serving_dir=serving_dir)
    result = scoring.evaluate(
        transformed_examples.uri, transform_graph.uri,
        os.path.join(model.uri, SERVING_MODEL_SUBDIR), config, evaluation.uri)
    scoring.write_blessing(blessing.uri, result.blessed)
    blessing.set_int_custom_property("blessed", int(result.blessed))
    blessing.set_string_custom_property("deciding_condition", result.deciding_condition)
    blessing.set_string_custom_property("reason", result.reason)
    blessing.set_string_custom_property("gate", config.settings.gate.to_json())
    if result.baseline_fid is not None:
        blessing.set_float_custom_property("baseline_fid", result.baseline_fid)
        blessing.set_int_custom_property("baseline_version", result.baseline_version)
    for artifact in (evaluation, blessing):
        for name in EVALUATION_PROPERTIES:
            value = getattr(result, name)
            if value is not None:
                artifact.set_float_custom_property(name, value)
        artifact.set_string_custom_property("extractor", result.extractor)
        artifact.set_int_custom_property("extractor_feature_dim", result.extractor_feature_dim)
        artifact.set_string_custom_property("extractor_cache_dir", cache_dir)
        if result.extractor_holdout_accuracy is not None:
            artifact.set_float_custom_property("extractor_holdout_accuracy",
                                               result.extractor_holdout_accuracy)
