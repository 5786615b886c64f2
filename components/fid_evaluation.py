"""Scores a trained generator against the held-out eval split and decides whether to bless it.

Plain functions over artifact paths, so they are testable without TFX; the TFX
component in `components.fid_evaluator` is a thin wrapper around `evaluate`.

The baseline is the generator being served now, found in the serving folder
(no TFX Resolver, which open-source Kubeflow cannot run): its recorded metrics
when they were measured the same way (same extractor, same real images, same
sample count and seed), otherwise it is re-scored now, so two FIDs are only
ever compared when they are comparable.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging

from components import evaluation_report, push
from components.extractors import EXTRACTORS, FeatureExtractor, build_extractor
from modules import data, metrics
from modules.export import (COMPRESSED_PRECISIONS, IMAGES_OUTPUT, NOISE_INPUT,
                            SERVING_SIGNATURE, export_compressed, read_metadata)
from modules.fid_cache import FidCache, pixels_fingerprint, sha256_hex
from modules.images import to_uint8, viewable_grid, write_png

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"
GENERATED_GRID_FILE = "generated_grid.png"
REAL_GRID_FILE = "real_grid.png"
BLESSED_FILE = "BLESSED"
NOT_BLESSED_FILE = "NOT_BLESSED"
GRID_IMAGES = 64
COMPRESSED_DIR = "compressed"  # <evaluation>/compressed/<precision>/: the scored copies


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    fid_threshold: float
    num_samples: int = 1000
    seed: int = 0
    kid_subsets: int = 100
    precision_recall_k: int = 3
    extractor: str = "domain_classifier"
    extractor_path: str = ""          # Inception weights or SavedModel, per the extractor
    cache_dir: str = ""               # real features and classifiers; "" disables caching
    serving_dir: str = ""             # where the served generator (the baseline) lives
    baseline_tolerance: float = 0.0   # bless when FID <= served FID * (1 + tolerance)
    compressed_precisions: tuple[str, ...] = ()  # reduced-precision copies to score too

    def __post_init__(self):
        if self.num_samples < 2:
            raise ValueError(f"num_samples must be at least 2, got {self.num_samples}")
        if math.isnan(self.fid_threshold):
            raise ValueError("fid_threshold must be a number")
        if self.extractor not in EXTRACTORS:
            raise ValueError(f"unknown FID extractor {self.extractor!r}; choose one of {EXTRACTORS}")
        if self.baseline_tolerance < 0:
            raise ValueError(f"baseline_tolerance must be >= 0, got {self.baseline_tolerance}")
        unknown = set(self.compressed_precisions) - set(COMPRESSED_PRECISIONS)
        if unknown:
            raise ValueError(f"unknown compressed precision(s) {sorted(unknown)}; choose "
                             f"from {COMPRESSED_PRECISIONS}")


@dataclasses.dataclass(frozen=True)
class Baseline:
    version: int | None
    fid: float | None
    source: str


@dataclasses.dataclass(frozen=True)
class Decision:
    blessed: bool
    reason: str


def decide(fid: float, threshold: float, baseline: Baseline, tolerance: float) -> Decision:
    """Blesses when FID is finite, within the threshold and not worse than the served model's."""
    if not math.isfinite(fid):
        return Decision(False, f"FID is not available ({fid}): nothing to compare")
    if fid > threshold:
        return Decision(False, f"FID {fid:.4f} is above the threshold {threshold}")
    if baseline.fid is None:
        return Decision(True, f"FID {fid:.4f} is within the threshold {threshold}; "
                              f"{baseline.source}")
    if not math.isfinite(baseline.fid):
        return Decision(True, f"FID {fid:.4f} is within the threshold {threshold}; the served "
                              f"version {baseline.version} has no finite FID ({baseline.source})")
    limit = baseline.fid * (1.0 + tolerance)
    if fid > limit:
        return Decision(False, f"FID {fid:.4f} is worse than the served version "
                               f"{baseline.version}'s {baseline.fid:.4f} (limit {limit:.4f} with "
                               f"tolerance {tolerance}; {baseline.source})")
    return Decision(True, f"FID {fid:.4f} is within the threshold {threshold} and not worse than "
                          f"the served version {baseline.version}'s {baseline.fid:.4f} (limit "
                          f"{limit:.4f} with tolerance {tolerance}; {baseline.source})")


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
    fid: float
    kid: metrics.KernelInceptionDistance | None
    precision_recall: metrics.PrecisionRecall | None
    fid_refusal: str | None


def score(real_features: np.ndarray, fake_features: np.ndarray, config: EvaluationConfig
          ) -> Scores:
    """FID (refused, with the reason, when either set has no more samples than dimensions),
    KID and precision/recall."""
    if not np.isfinite(fake_features).all():
        return Scores(math.nan, None, None, "the generated images' features are not finite")
    kid = metrics.kid(real_features, fake_features, subsets=config.kid_subsets, seed=config.seed)
    pr = metrics.precision_recall(real_features, fake_features, k=config.precision_recall_k)
    fid, refusal = fid_or_refusal(real_features, fake_features)
    return Scores(fid, kid, pr, refusal)


def fid_or_refusal(real_features: np.ndarray, fake_features: np.ndarray
                   ) -> tuple[float, str | None]:
    dim = real_features.shape[1]
    smaller = min(len(real_features), len(fake_features))
    if smaller <= dim:
        return math.nan, (f"FID needs more samples than the {dim} feature dimensions, "
                          f"but a set has only {smaller}")
    try:
        return metrics.fid(real_features, fake_features), None
    except ValueError as error:  # the covariance product has no real square root
        return math.nan, str(error)


def served_baseline(config: EvaluationConfig, comparison: dict, extractor: FeatureExtractor,
                    real_features: np.ndarray) -> Baseline:
    """The served generator's FID, measured the same way as the candidate's."""
    version = push.served_version(config.serving_dir) if config.serving_dir else None
    if version is None:
        return Baseline(None, None, "nothing is served yet")
    recorded = push.read_version_file(config.serving_dir, version, push.EVALUATION_FILE) or {}
    if recorded.get("comparison") == comparison and recorded.get("fid") is not None:
        return Baseline(version, float(recorded["fid"]),
                        f"recorded when version {version} was pushed")
    served = generate(os.path.join(config.serving_dir, str(version)), config.num_samples,
                      config.seed)
    fid, _ = fid_or_refusal(real_features, extractor.features(served))
    return Baseline(version, fid, f"version {version} re-scored now: its recorded metrics "
                                  f"were measured differently")


def score_compressed(serving_model_dir: str, evaluation_dir: str, config: EvaluationConfig,
                     extractor: FeatureExtractor, real_features: np.ndarray) -> dict:
    """Writes each reduced-precision copy of the generator and its FID, measured exactly
    as the float32 generator's (same noise, extractor and real features)."""
    compressed = {}
    for precision in config.compressed_precisions:
        path = os.path.join(evaluation_dir, COMPRESSED_DIR, precision)
        export_compressed(serving_model_dir, path, precision)
        images = generate(path, config.num_samples, config.seed)
        fid, refusal = fid_or_refusal(real_features, extractor.features(images))
        compressed[precision] = {"fid": fid, "fid_refusal": refusal, "path": path}
    return compressed


def evaluate(transformed_examples_uri: str, transform_output_uri: str, serving_model_dir: str,
             config: EvaluationConfig, evaluation_dir: str) -> dict:
    """Scores the generator, decides, and writes metrics, grids and the HTML report."""
    tf_transform_output = tft.TFTransformOutput(transform_output_uri)
    train, train_labels = data.load_split(
        data.split_file_patterns(transformed_examples_uri, "train"), tf_transform_output)
    real, _ = data.load_split(
        data.split_file_patterns(transformed_examples_uri, "eval"), tf_transform_output)
    real_fingerprint = pixels_fingerprint(real)
    cache = FidCache(config.cache_dir) if config.cache_dir else None
    extractor = build_extractor(config.extractor, config.extractor_path, train, train_labels,
                                config.seed, cache)
    generated = generate(serving_model_dir, config.num_samples, config.seed)

    real_features = cached_features(extractor, real, real_fingerprint, cache)
    floor_sample = np.random.default_rng(config.seed).permutation(len(train))[:config.num_samples]
    floor_images = train[floor_sample]
    floor_features = cached_features(extractor, floor_images, pixels_fingerprint(floor_images),
                                     cache)
    scores = score(real_features, extractor.features(generated), config)
    floor, _ = fid_or_refusal(real_features, floor_features)
    if scores.fid_refusal:
        logging.warning("Not reporting FID: %s (KID is still reported)", scores.fid_refusal)

    comparison = {"extractor": extractor.identity, "real_images": real_fingerprint,
                  "num_samples": config.num_samples, "seed": config.seed}
    baseline = served_baseline(config, comparison, extractor, real_features)
    decision = decide(scores.fid, config.fid_threshold, baseline, config.baseline_tolerance)
    result = {
        "fid": scores.fid,
        "fid_refusal": scores.fid_refusal,
        "kid_mean": scores.kid.mean if scores.kid else math.nan,
        "kid_std": scores.kid.std if scores.kid else math.nan,
        "kid_subsets": config.kid_subsets,
        "kid_subset_size": scores.kid.subset_size if scores.kid else 0,
        "precision": scores.precision_recall.precision if scores.precision_recall else math.nan,
        "recall": scores.precision_recall.recall if scores.precision_recall else math.nan,
        "precision_recall_k": config.precision_recall_k,
        "fid_real_floor": floor,
        "fid_threshold": config.fid_threshold,
        "baseline_version": baseline.version,
        "baseline_fid": baseline.fid,
        "baseline_source": baseline.source,
        "baseline_tolerance": config.baseline_tolerance,
        "num_generated": len(generated),
        "num_real_eval": len(real),
        "num_real_floor": len(floor_features),
        "extractor": extractor.identity,
        "extractor_feature_dim": int(real_features.shape[1]),
        "comparison": comparison,
        "blessed": decision.blessed,
        "reason": decision.reason,
    }
    result["compressed"] = score_compressed(serving_model_dir, evaluation_dir, config,
                                           extractor, real_features)
    holdout_accuracy = getattr(getattr(extractor, "model", None), "holdout_accuracy", None)
    if holdout_accuracy is not None:
        result["extractor_holdout_accuracy"] = holdout_accuracy

    tf.io.gfile.makedirs(evaluation_dir)
    with tf.io.gfile.GFile(os.path.join(evaluation_dir, METRICS_FILE), "w") as out:
        json.dump(result, out, indent=2, allow_nan=True)
    grid_sample = np.random.default_rng(config.seed).permutation(len(real))[:GRID_IMAGES]
    for name, pixels in ((GENERATED_GRID_FILE, generated[:GRID_IMAGES]),
                         (REAL_GRID_FILE, real[grid_sample])):
        write_png(os.path.join(evaluation_dir, name), viewable_grid(pixels))
    with tf.io.gfile.GFile(os.path.join(evaluation_dir, REPORT_FILE), "w") as out:
        out.write(evaluation_report.render(result, real[grid_sample], generated[:GRID_IMAGES],
                                           train))
    logging.info("FID evaluation: %s", json.dumps(result))
    return result


def write_blessing(blessing_dir: str, blessed: bool) -> None:
    """The marker file Evaluator-style blessings carry beside their custom properties."""
    tf.io.gfile.makedirs(blessing_dir)
    name = BLESSED_FILE if blessed else NOT_BLESSED_FILE
    with tf.io.gfile.GFile(os.path.join(blessing_dir, name), "w") as out:
        out.write("")
