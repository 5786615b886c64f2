"""Scores a trained generator with FID and KID against the held-out eval split.

Plain functions over artifact paths, so they are testable without TFX; the TFX
component in `components.fid_evaluator` is a thin wrapper around `evaluate`.
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

from modules import data, features, metrics
from modules.domain_classifier import ClassifierConfig, train_domain_classifier
from modules.export import IMAGES_OUTPUT, NOISE_INPUT, SERVING_SIGNATURE
from modules.images import ImageSpec, from_uint8, save_sample_grid, to_uint8

METRICS_FILE = "metrics.json"
GENERATED_GRID_FILE = "generated_grid.png"
REAL_GRID_FILE = "real_grid.png"
BLESSED_FILE = "BLESSED"
NOT_BLESSED_FILE = "NOT_BLESSED"
GRID_IMAGES = 64


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    fid_threshold: float
    num_samples: int = 1000
    seed: int = 0
    kid_subsets: int = 100

    def __post_init__(self):
        if self.num_samples < 2:
            raise ValueError(f"num_samples must be at least 2, got {self.num_samples}")
        if math.isnan(self.fid_threshold):
            raise ValueError("fid_threshold must be a number")


@dataclasses.dataclass(frozen=True)
class Decision:
    blessed: bool
    reason: str


def decide(fid: float, threshold: float) -> Decision:
    if not math.isfinite(fid):
        return Decision(False, f"FID is not finite ({fid})")
    if fid > threshold:
        return Decision(False, f"FID {fid:.4f} is above the threshold {threshold}")
    return Decision(True, f"FID {fid:.4f} is within the threshold {threshold}")


def generate(serving_model_dir: str, count: int, seed: int, batch_size: int = 256) -> np.ndarray:
    """Samples the exported generator through its serving signature: [-1, 1] floats,
    quantized to uint8 levels exactly as the real images were."""
    serve = tf.saved_model.load(serving_model_dir).signatures[SERVING_SIGNATURE]
    latent_dim = serve.structured_input_signature[1][NOISE_INPUT].shape[-1]
    noise = np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)
    batches = [serve(**{NOISE_INPUT: tf.constant(noise[start:start + batch_size])})[IMAGES_OUTPUT]
               for start in range(0, count, batch_size)]
    unit_interval = np.concatenate([batch.numpy() for batch in batches])
    return from_uint8(to_uint8(unit_interval * 2.0 - 1.0))


def evaluate(transformed_examples_uri: str, transform_output_uri: str, serving_model_dir: str,
             config: EvaluationConfig, evaluation_dir: str) -> dict:
    """Computes FID, KID and the real-vs-real FID floor; writes metrics and sample grids."""
    tf_transform_output = tft.TFTransformOutput(transform_output_uri)
    train_pixels, train_labels = data.load_split(
        data.split_file_patterns(transformed_examples_uri, "train"), tf_transform_output)
    eval_pixels, _ = data.load_split(
        data.split_file_patterns(transformed_examples_uri, "eval"), tf_transform_output)
    spec = ImageSpec(size=train_pixels.shape[1], channels=train_pixels.shape[3])
    classifier = train_domain_classifier(train_pixels, train_labels, spec,
                                         ClassifierConfig(seed=config.seed))
    generated = generate(serving_model_dir, config.num_samples, config.seed)

    eval_features = classifier.features(eval_pixels)
    generated_features = classifier.features(generated)
    floor_sample = np.random.default_rng(config.seed).permutation(len(train_pixels))
    train_features = classifier.features(train_pixels[floor_sample[:config.num_samples]])
    if not np.isfinite(generated_features).all():
        fid, fid_floor, kid = math.nan, math.nan, None
    elif len(eval_features) <= eval_features.shape[1]:
        logging.warning("Not reporting FID: the eval split has %d images, not more than the "
                        "%d feature dimensions; KID is still computed", len(eval_features),
                        eval_features.shape[1])
        fid, fid_floor = math.nan, math.nan
        kid = metrics.kid(eval_features, generated_features, subsets=config.kid_subsets,
                          seed=config.seed)
    else:
        fid = metrics.fid(eval_features, generated_features)
        fid_floor = metrics.fid(eval_features, train_features)
        kid = metrics.kid(eval_features, generated_features, subsets=config.kid_subsets,
                          seed=config.seed)
    result = {
        "fid": fid,
        "kid_mean": kid.mean if kid else math.nan,
        "kid_std": kid.std if kid else math.nan,
        "kid_subsets": config.kid_subsets,
        "kid_subset_size": kid.subset_size if kid else 0,
        "fid_real_floor": fid_floor,
        "fid_threshold": config.fid_threshold,
        "num_generated": len(generated),
        "num_real_eval": len(eval_pixels),
        "num_real_floor": len(train_features),
        "extractor": "domain_classifier",
        "extractor_feature_dim": int(eval_features.shape[1]),
        "extractor_holdout_accuracy": classifier.holdout_accuracy,
    }
    decision = decide(fid, config.fid_threshold)
    result.update(blessed=decision.blessed, reason=decision.reason)

    tf.io.gfile.makedirs(evaluation_dir)
    with tf.io.gfile.GFile(os.path.join(evaluation_dir, METRICS_FILE), "w") as out:
        json.dump(result, out, indent=2, allow_nan=True)
    save_sample_grid(os.path.join(evaluation_dir, GENERATED_GRID_FILE), generated[:GRID_IMAGES])
    grid_sample = np.random.default_rng(config.seed).permutation(len(eval_pixels))[:GRID_IMAGES]
    save_sample_grid(os.path.join(evaluation_dir, REAL_GRID_FILE), eval_pixels[grid_sample])
    logging.info("FID evaluation: %s", json.dumps(result))
    return result


def write_blessing(blessing_dir: str, blessed: bool) -> None:
    """The marker file Evaluator-style blessings carry beside their custom properties."""
    tf.io.gfile.makedirs(blessing_dir)
    name = BLESSED_FILE if blessed else NOT_BLESSED_FILE
    with tf.io.gfile.GFile(os.path.join(blessing_dir, name), "w") as out:
        out.write("")
