"""Keeps the best generator seen during training, by a cheap FID, for export.

DCGAN quality often peaks and then degrades, so the last weights are not
necessarily the best. Every N steps the generator that would be exported (the
EMA one when on) is scored with FID in the feature space of the FidEvaluator's
extractor (the domain classifier or the self-supervised encoder, shared through
the FID cache) against training images (not the eval split, which stays
untouched for the FidEvaluator's verdict); a better score copies its weights
into the snapshot.
The snapshot and its score are checkpointed, so a resume keeps them.
"""
from __future__ import annotations

import math

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf
from absl import logging

from modules.images import from_uint8, to_uint8
from modules.keras import keras
from modules.quality import metrics
from modules.quality.domain_classifier import TrainingImages
from modules.quality.fid_cache import FidCache
from modules.quality.trained_extractors import TrainedModel, cached_trained_extractor


class BestSnapshot(tf.Module):
    """The best-scoring generator weights and their FID and step (checkpointable)."""

    def __init__(self, generator: keras.Model):
        super().__init__(name="best_snapshot")
        self.generator = keras.models.clone_model(generator)
        self.generator.set_weights(generator.get_weights())
        self.fid = tf.Variable(math.inf, dtype=tf.float64, trainable=False)
        self.step = tf.Variable(-1, dtype=tf.int64, trainable=False)

    @property
    def exists(self) -> bool:
        return int(self.step.numpy()) >= 0

    def offer(self, generator: keras.Model, fid: float, step: int) -> bool:
        if not fid < float(self.fid.numpy()):
            return False
        for target, source in zip(self.generator.weights, generator.weights):
            target.assign(source)
        self.fid.assign(fid)
        self.step.assign(step)
        return True


class CheapFid:
    """FID of a generator's samples against fixed real images, in a trained extractor's
    features."""

    def __init__(self, extractor: TrainedModel, real_pixels: np.ndarray, num_samples: int,
                 latent_dim: int, seed: int):
        self.extractor = extractor
        self.real_features = extractor.features(real_pixels)
        self.noise = np.random.default_rng(seed).standard_normal(
            (num_samples, latent_dim)).astype(np.float32)

    @classmethod
    def from_training_images(cls, extractor: str, images: TrainingImages, num_samples: int,
                             latent_dim: int, seed: int, cache: FidCache | None) -> "CheapFid":
        """Scores against `num_samples` of `images` (`trained_extractors.training_images`),
        with the extractor named `extractor` that the FidEvaluator uses too (trained here, or
        loaded from `cache`)."""
        model, identity = cached_trained_extractor(extractor, images, seed, cache)
        logging.info("Snapshot selection scores in the features of %s", identity)
        real = np.random.default_rng(seed).permutation(len(images.pixels))[:num_samples]
        scorer = cls(model, from_uint8(images.pixels[real]), num_samples, latent_dim, seed)
        refusal = metrics.fid_sample_refusal(min(len(real), num_samples),
                                             scorer.real_features.shape[1])
        if refusal:  # small data: scoring snapshots would only ever be refused
            raise ValueError(f"{refusal} (training images or selection_samples)")
        return scorer

    def __call__(self, generator: keras.Model) -> float:
        images = generator.predict(self.noise, batch_size=512, verbose=0)
        if not np.isfinite(images).all():
            return math.nan
        # Quantized as the real images were stored, as the FidEvaluator does.
        fid, refusal = metrics.fid_or_refusal(
            self.real_features, self.extractor.features(from_uint8(to_uint8(images))))
        if refusal:
            logging.warning("Snapshot not scored: %s", refusal)
            return math.nan
        return fid


class SnapshotSelector(keras.callbacks.Callback):
    """Scores the inference generator every N steps and at the end; keeps the best."""

    def __init__(self, cheap_fid: CheapFid, snapshot: BestSnapshot, every_steps: int,
                 writer: tf.summary.SummaryWriter):
        super().__init__()
        self.cheap_fid = cheap_fid
        self.snapshot = snapshot
        self.every_steps = every_steps
        self.writer = writer
        self._last_scored = 0

    def on_train_begin(self, logs=None):
        self._last_scored = self.model.step

    def on_train_batch_end(self, batch, logs=None):
        if self.model.step - self._last_scored >= self.every_steps:
            self.score()

    def on_train_end(self, logs=None):
        if self.model.step > self._last_scored and not self.model.stop_training:
            self.score()

    def score(self) -> None:
        step = self.model.step
        fid = self.cheap_fid(self.model.inference_generator)
        improved = self.snapshot.offer(self.model.inference_generator, fid, step)
        logging.info("step %d: cheap FID %.4f%s (best %.4f at step %d)", step, fid,
                     " (new best)" if improved else "", float(self.snapshot.fid.numpy()),
                     int(self.snapshot.step.numpy()))
        with self.writer.as_default(step=step):
            tf.summary.scalar("cheap_fid", fid)
        self._last_scored = step
