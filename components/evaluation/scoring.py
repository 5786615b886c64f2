"""Scores a trained generator against the held-out eval split and decides whether to bless it.

Plain functions over artifact paths, so they are testable without TFX; the TFX
component in `components.evaluation.component` is a thin wrapper around `evaluate`.

The baseline is the generator being served now, found in the serving folder
(no TFX Resolver, which open-source Kubeflow cannot run): its recorded metrics
when they were measured the same way (same extractor, same real images, same
sample count and seed), otherwise it is re-scored now, so two FIDs are only
ever compared when they are comparable.
"""
from __future__ import annotations

import dataclasses
import os

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging

from components.evaluation import report
from components.evaluation.extractors import FeatureExtractor, build_extractor
from components.evaluation.gate import Baseline, EvaluationConfig, Measurements, decide
from components.evaluation.result import (METRICS_FILE, REPORT_FILE, Comparison,
                                          CompressedScore, EvaluationResult, finite_or_none)
from components.push import serving_folder
from modules import data
from modules.export import (IMAGES_OUTPUT, NOISE_INPUT, SERVING_SIGNATURE, export_compressed,
                            read_metadata)
from modules.images import to_uint8, viewable_grid, write_png
from modules.quality import metrics
from modules.quality.fid_cache import FidCache, pixels_fingerprint, sha256_hex
from modules.quality.metrics import resolve_extractor

GENERATED_GRID_FILE = "generated_grid.png"
REAL_GRID_FILE = "real_grid.png"
BLESSED_FILE = "BLESSED"
NOT_BLESSED_FILE = "NOT_BLESSED"
GRID_IMAGES = 64
COMPRESSED_DIR = "compressed"  # <evaluation>/compressed/<precision>/: the scored copies


def generate(serving_model_dir: str, count: int, seed: int, batch_size: int = 256) -> np.ndarray:
    """Samples an exported generator through its serving signature, as uint8 pixels
    quantized exactly as the real images were."""
    serve = tf.saved_model.load(serving_model_dir).signatures[SERVING_SIGNATURE]
    batch_size = min(batch_size, read_metadata(serving_model_dir).get("max_samples", batch_size))
    latent_dim = serve.structured_input_signature[1][NOISE_INPUT].shape[-1]
    noise = np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)
    batches = [serve(**{NOISE_INPUT: tf.constant(noise[start:start + batch_size])})[IMAGES_OUTPUT]
               for start in range(0, count, batch_size)]
    unit_interval = np.concatenate([batch.numpy() for batch in batches])
    return to_uint8(unit_interval * 2.0 - 1.0)


def cached_features(extractor: FeatureExtractor, pixels: np.ndarray, fingerprint: str,
                    cache: FidCache | None) -> np.ndarray:
    """Features of real images, computed once per (extractor, image set); `fingerprint`:
    the images' `fid_cache.pixels_fingerprint`."""
    key = "features-" + sha256_hex(extractor.identity.encode(), fingerprint.encode())[:24]
    stored = cache.load(key) if cache else None
    if stored is not None:
        logging.info("Real features from cache: %s", key)
        return stored["features"]
    features = extractor.features(pixels)
    if cache:
        cache.save(key, features=features)
    return features


@dataclasses.dataclass(frozen=True)
class Scores:
    """None where a metric could not be computed (with the reason for FID)."""

    fid: float | None
    kid: metrics.KernelInceptionDistance | None
    precision_recall: metrics.PrecisionRecall | None
    fid_refusal: str | None


def score(real_features: np.ndarray, fake_features: np.ndarray, config: EvaluationConfig
          ) -> Scores:
    """FID (refused, with the reason, when either set has no more samples than dimensions),
    KID and precision/recall (absent when a set is too small for them)."""
    if not np.isfinite(fake_features).all():
        return Scores(None, None, None, "the generated images' features are not finite")
    smaller = min(len(real_features), len(fake_features))
    kid = metrics.kid(real_features, fake_features, subsets=config.settings.kid_subsets,
                      seed=config.seed) if smaller >= 2 else None
    pr = metrics.precision_recall(real_features, fake_features, k=config.settings.precision_recall_k
                                  ) if smaller > config.settings.precision_recall_k else None
    fid, refusal = metrics.fid_or_refusal(real_features, fake_features)
    return Scores(fid, kid, pr, refusal)


def served_baseline(config: EvaluationConfig, comparison: Comparison,
                    extractor: FeatureExtractor, real_features: np.ndarray,
                    count: int) -> Baseline:
    """The served generator's FID, measured the same way as the candidate's (`count`
    samples)."""
    served = serving_folder.served(config.serving_dir) if config.serving_dir else None
    if served is None:
        return Baseline(None, None, "nothing is served yet")
    fid = EvaluationResult.comparable_fid(served.evaluation, comparison)
    if fid is not None:
        return Baseline(served.version, fid, f"recorded when version {served.version} was pushed")
    images = generate(served.path, count, config.seed)
    fid, _ = metrics.fid_or_refusal(real_features, extractor.features(images))
    return Baseline(served.version, fid, f"version {served.version} re-scored now: its "
                                         f"recorded metrics were measured differently")


def score_compressed(serving_model_dir: str, evaluation_dir: str, config: EvaluationConfig,
                     count: int, extractor: FeatureExtractor,
                     real_features: np.ndarray) -> dict[str, CompressedScore]:
    """Writes each reduced-precision copy of the generator and its FID, measured exactly
    as the float32 generator's (same noise, extractor and real features)."""
    compressed = {}
    for precision in config.settings.compressed_precisions:
        path = os.path.join(evaluation_dir, COMPRESSED_DIR, precision)
        export_compressed(serving_model_dir, path, precision)
        images = generate(path, count, config.seed)
        fid, refusal = metrics.fid_or_refusal(real_features, extractor.features(images))
        compressed[precision] = CompressedScore(finite_or_none(fid), refusal, path)
    return compressed


def evaluate(transformed_examples_uri: str, transform_output_uri: str, serving_model_dir: str,
             config: EvaluationConfig, evaluation_dir: str) -> EvaluationResult:
    """Scores the generator, decides, and writes metrics, grids and the HTML report.

    The generated set, the floor's training sample and the served generator's samples
    have the same size: `fid_num_samples`, or fewer when the training split is smaller (FID
    is biased by the sample count, so the floor is only a unit at equal counts)."""
    tf_transform_output = tft.TFTransformOutput(transform_output_uri)
    train, train_labels = data.load_split(
        data.split_file_patterns(transformed_examples_uri, "train"), tf_transform_output)
    real, _ = data.load_split(
        data.split_file_patterns(transformed_examples_uri, "eval"), tf_transform_output)
    real_fingerprint = pixels_fingerprint(real)
    cache = FidCache(config.cache_dir) if config.cache_dir else None
    extractor = build_extractor(resolve_extractor(config.settings.extractor,
                                                  metrics.count_classes(train_labels)),
                                config.settings.extractor_path, train, train_labels,
                                config.seed, cache)
    count = min(config.settings.fid_num_samples, len(train))
    generated = generate(serving_model_dir, count, config.seed)

    real_features = cached_features(extractor, real, real_fingerprint, cache)
    floor_images = train[np.random.default_rng(config.seed).permutation(len(train))[:count]]
    floor_features = cached_features(extractor, floor_images, pixels_fingerprint(floor_images),
                                     cache)
    scores = score(real_features, extractor.features(generated), config)
    floor, floor_refusal = metrics.fid_or_refusal(real_features, floor_features)
    if scores.fid_refusal or floor_refusal:
        logging.warning("Not reporting FID: %s (KID is still reported)",
                        scores.fid_refusal or floor_refusal)
    logits = extractor.class_logits(generated) if hasattr(extractor, "class_logits") else None
    inception_score = None if logits is None else metrics.classifier_score(logits)

    comparison = Comparison(extractor.identity, real_fingerprint, count, config.seed)
    baseline = served_baseline(config, comparison, extractor, real_features, count)
    measured = Measurements(scores.fid, scores.fid_refusal or floor_refusal, floor,
                            scores.precision_recall.precision if scores.precision_recall
                            else None,
                            scores.precision_recall.recall if scores.precision_recall else None,
                            inception_score)
    decision = decide(measured, config.settings.gate, baseline)
    result = EvaluationResult(
        fid=finite_or_none(scores.fid), fid_refusal=measured.fid_refusal,
        fid_real_floor=finite_or_none(floor), fid_ratio=finite_or_none(measured.fid_ratio),
        kid_mean=scores.kid.mean if scores.kid else None,
        kid_std=scores.kid.std if scores.kid else None, kid_subsets=config.settings.kid_subsets,
        kid_subset_size=scores.kid.subset_size if scores.kid else 0,
        precision=measured.precision, recall=measured.recall,
        precision_recall_k=config.settings.precision_recall_k,
        inception_score=finite_or_none(inception_score),
        num_generated=len(generated), num_real_eval=len(real),
        num_real_floor=len(floor_features), extractor=extractor.identity,
        extractor_feature_dim=int(real_features.shape[1]),
        extractor_holdout_accuracy=getattr(getattr(extractor, "model", None),
                                           "holdout_accuracy", None),
        comparison=comparison, gate=config.settings.gate, baseline_version=baseline.version,
        baseline_fid=finite_or_none(baseline.fid), baseline_source=baseline.source,
        checks=decision.checks, deciding_condition=decision.deciding,
        blessed=decision.blessed, reason=decision.reason,
        compressed=score_compressed(serving_model_dir, evaluation_dir, config, count,
                                    extractor, real_features))

    tf.io.gfile.makedirs(evaluation_dir)
    with tf.io.gfile.GFile(os.path.join(evaluation_dir, METRICS_FILE), "w") as out:
        out.write(result.to_json())
    grid_sample = np.random.default_rng(config.seed).permutation(len(real))[:GRID_IMAGES]
    for name, pixels in ((GENERATED_GRID_FILE, generated[:GRID_IMAGES]),
                         (REAL_GRID_FILE, real[grid_sample])):
        write_png(os.path.join(evaluation_dir, name), viewable_grid(pixels))
    with tf.io.gfile.GFile(os.path.join(evaluation_dir, REPORT_FILE), "w") as out:
        out.write(report.render(result, real[grid_sample], generated[:GRID_IMAGES],
                                           train))
    logging.info("FID evaluation: %s", result.verdict)
    return result


def write_blessing(blessing_dir: str, blessed: bool) -> None:
    """The marker file Evaluator-style blessings carry beside their custom properties."""
    tf.io.gfile.makedirs(blessing_dir)
    name = BLESSED_FILE if blessed else NOT_BLESSED_FILE
    with tf.io.gfile.GFile(os.path.join(blessing_dir, name), "w") as out:
        out.write("")
