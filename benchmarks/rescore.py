"""A finished run's pushed generator scored with each FID extractor trained on the run's
data, exactly as the FidEvaluator scores (its splits, sample count and seed), each beside
its own real-vs-real floor: a second opinion on the gate's figure.

    .venv/bin/python -m benchmarks.rescore [--output-dir outputs]

Reads the run's newest Transform outputs from its ML Metadata and the version its serving
folder serves (`make run`'s defaults); extractors are trained once into a
scratch cache (the run's own cache is not touched).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)

from components.evaluation import scoring
from components.evaluation.gate import EvaluationConfig
from components.push.serving_folder import served
from modules.quality.trained_extractors import TRAINED_EXTRACTORS
from pipeline.configs import PIPELINE_NAME, PipelineConfig
from pipeline.run_monitor import last_execution


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default=PipelineConfig().output_dir)
    args = parser.parse_args()
    config = PipelineConfig(output_dir=args.output_dir,
                            serving_dir=os.path.join(args.output_dir, "serving_model"))
    if not os.path.isfile(config.metadata_path):
        raise SystemExit(f"no run in {args.output_dir}: run the pipeline first")
    transform = last_execution(config.metadata_path, PIPELINE_NAME, "Transform")[1]
    examples, graph = transform["Examples"].uri, transform["TransformGraph"].uri
    current = served(config.serving_dir)
    if current is None:
        raise SystemExit(f"nothing is served from {config.serving_dir}")
    model = current.path
    print(f"generator {model}\nexamples {examples}")
    with tempfile.TemporaryDirectory() as scratch:
        for extractor in TRAINED_EXTRACTORS:
            settings = dataclasses.replace(config.evaluation, extractor=extractor)
            try:
                result = scoring.evaluate(
                    examples, graph, model,
                    EvaluationConfig(settings, seed=config.training.seed,
                                     cache_dir=os.path.join(scratch, "cache")),
                    os.path.join(scratch, extractor))
            except ValueError as error:  # e.g. the domain classifier on unlabeled images
                print(f"  {extractor:18s} not scored: {error}")
                continue
            print(f"  {extractor:18s} FID {result.fid:.4f} = {result.fid_ratio:.2f}x the floor "
                  f"{result.fid_real_floor:.4f}; precision {result.precision:.3f}, recall "
                  f"{result.recall:.3f} ({result.extractor_feature_dim}-d features, "
                  f"{result.num_generated} samples)", flush=True)


if __name__ == "__main__":
    main()
