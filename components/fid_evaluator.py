"""The FID evaluation component: blesses the trained generator or rejects it."""

import os

from tfx import v1 as tfx

from components import fid_evaluation

# Where Trainer puts the serving model inside its Model artifact.
SERVING_MODEL_SUBDIR = "Format-Serving"

InputArtifact = tfx.dsl.components.InputArtifact
OutputArtifact = tfx.dsl.components.OutputArtifact
Parameter = tfx.dsl.components.Parameter
artifacts = tfx.types.standard_artifacts


@tfx.dsl.components.component
def FidEvaluator(
    transformed_examples: InputArtifact[artifacts.Examples],
    transform_graph: InputArtifact[artifacts.TransformGraph],
    model: InputArtifact[artifacts.Model],
    evaluation: OutputArtifact[artifacts.ModelEvaluation],
    blessing: OutputArtifact[artifacts.ModelBlessing],
    fid_threshold: Parameter[float],
    num_samples: Parameter[int] = 1000,
    seed: Parameter[int] = 0,
    code_version: Parameter[str] = "",
) -> None:
    """Scores `num_samples` generated images against the eval split with FID and KID.

    Writes `metrics.json` and sample grids into `evaluation`, and a `blessing`
    that Pusher accepts (custom property `blessed` = 1) when FID is finite and
    at most `fid_threshold`. `code_version` only keys the cache to our code.
    """
    del code_version
    result = fid_evaluation.evaluate(
        transformed_examples.uri, transform_graph.uri,
        os.path.join(model.uri, SERVING_MODEL_SUBDIR),
        fid_evaluation.EvaluationConfig(fid_threshold=fid_threshold, num_samples=num_samples,
                                        seed=seed),
        evaluation.uri)
    fid_evaluation.write_blessing(blessing.uri, result["blessed"])
    blessing.set_int_custom_property("blessed", int(result["blessed"]))
    blessing.set_float_custom_property("fid", result["fid"])
    blessing.set_float_custom_property("fid_threshold", fid_threshold)
    blessing.set_string_custom_property("reason", result["reason"])
    evaluation.set_float_custom_property("fid", result["fid"])
    evaluation.set_float_custom_property("kid_mean", result["kid_mean"])
    evaluation.set_float_custom_property("fid_real_floor", result["fid_real_floor"])
