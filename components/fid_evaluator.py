"""The FID evaluation component: blesses the trained generator or rejects it."""
import os

from components import fid_evaluation
from components.tfx_types import (SERVING_MODEL_SUBDIR, InputArtifact, OutputArtifact, Parameter,
                                  artifacts, component)


@component
def FidEvaluator(
    transformed_examples: InputArtifact[artifacts.Examples],
    transform_graph: InputArtifact[artifacts.TransformGraph],
    model: InputArtifact[artifacts.Model],
    evaluation: OutputArtifact[artifacts.ModelEvaluation],
    blessing: OutputArtifact[artifacts.ModelBlessing],
    fid_threshold: Parameter[float],
    num_samples: Parameter[int] = 1000,
    seed: Parameter[int] = 0,
    extractor: Parameter[str] = "domain_classifier",
    extractor_path: Parameter[str] = "",
    cache_dir: Parameter[str] = "",
    serving_dir: Parameter[str] = "",
    baseline_tolerance: Parameter[float] = 0.0,
    compressed_precisions: Parameter[str] = "",
    code_version: Parameter[str] = "",
) -> None:
    """Scores `num_samples` generated images against the eval split (FID, KID,
    precision/recall) and blesses the model when FID is within `fid_threshold`
    and not worse than the served generator's (from `serving_dir`) by more than
    `baseline_tolerance`.

    Writes `metrics.json`, sample grids and `report.html` into `evaluation`,
    and a `blessing` that Pusher accepts (custom property `blessed` = 1).
    `compressed_precisions` ("float16,int8"): reduced-precision copies of the generator
    written into `evaluation` and scored the same way (`metrics.json`'s "compressed").
    `code_version` only keys the cache to our code.
    """
    del code_version
    config = fid_evaluation.EvaluationConfig(
        fid_threshold=fid_threshold, num_samples=num_samples, seed=seed, extractor=extractor,
        extractor_path=extractor_path, cache_dir=cache_dir, serving_dir=serving_dir,
        baseline_tolerance=baseline_tolerance,
        compressed_precisions=tuple(p for p in compressed_precisions.split(",") if p))
    result = fid_evaluation.evaluate(
        transformed_examples.uri, transform_graph.uri,
        os.path.join(model.uri, SERVING_MODEL_SUBDIR), config, evaluation.uri)
    fid_evaluation.write_blessing(blessing.uri, result["blessed"])
    blessing.set_int_custom_property("blessed", int(result["blessed"]))
    blessing.set_float_custom_property("fid", result["fid"])
    blessing.set_float_custom_property("fid_threshold", fid_threshold)
    if result["baseline_fid"] is not None:
        blessing.set_float_custom_property("baseline_fid", result["baseline_fid"])
        blessing.set_int_custom_property("baseline_version", result["baseline_version"])
    blessing.set_string_custom_property("reason", result["reason"])
    for name in ("fid", "kid_mean", "precision", "recall", "fid_real_floor"):
        evaluation.set_float_custom_property(name, result[name])
