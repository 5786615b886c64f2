"""A self-supervised encoder trained on the training split, used as the FID feature extractor
for images without labels (and usable on labeled ones: it ignores the labels).

Objective: SimCLR (Chen et al. 2020), the NT-Xent contrastive loss between two augmented
views of each image, the views made by the augmentations DiffAugment already applies
(colour, translation, cutout; `modules.training.augment`) plus horizontal flips. Morozov et al.
(ICLR 2021, "On Self-Supervised Image Representations for GAN Evaluation") found FID in
self-supervised feature spaces (SimCLR, SwAV) ranks generators at least as faithfully as
Inception's supervised features; here the encoder is small and trained on the user's own
images, so no weights are downloaded. As with the domain classifier, FIDs are comparable
only between runs that use the same encoder, which training deterministically from a seed
gives.

The learned features are the encoder's tanh layer (bounded, full rank on the data), not the
projection head the loss is computed on, as in SimCLR; FID sees them with the first
layer's texture statistics (`modules.quality.extractor_features`). The Trainer (best-snapshot
selection) and the FidEvaluator both get the encoder from `cached_self_supervised`, so it is
trained once per run and loaded from the shared FID cache otherwise.
"""
from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import time

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf
from absl import logging
from tensorflow.python.framework import config as framework_config

from modules.images import ImageSpec, from_uint8
from modules.keras import keras
from modules.quality import extractor_features
from modules.quality.domain_classifier import TrainingImages
from modules.quality.extractor_features import ExtractorFeatures
from modules.quality.fid_cache import FidCache, sha256_hex
from modules.training import augment
from modules.training.config import AUGMENTATIONS

FEATURES_LAYER = "features"
FIRST_LAYER = "first"
CACHE_PREFIX = "self_supervised"


@dataclasses.dataclass(frozen=True)
class SelfSupervisedConfig:
    feature_dim: int = 64
    projection_dim: int = 64
    images_seen: int = 40_000      # pairs of views; the training budget, whatever the data size
    batch_size: int = 128
    temperature: float = 0.2
    learning_rate: float = 2e-3
    seed: int = 0
    max_train_images: int = 20_000

    def fid_dim(self, spec: ImageSpec) -> int:
        """Dimensions of the features FID sees, at the image size of `spec`."""
        return self.feature_dim + extractor_features.texture_dim(_filters(spec)[0])


@dataclasses.dataclass
class SelfSupervisedEncoder:
    encoder: keras.Model    # images in [-1, 1] to the tanh features
    final_loss: float       # NT-Xent over the last batches, for the log
    extractor: ExtractorFeatures

    @classmethod
    def from_encoder(cls, encoder: keras.Model, final_loss: float,
                     pixels: np.ndarray) -> "SelfSupervisedEncoder":
        """The encoder's FID features calibrated on its training images `pixels`."""
        return cls(encoder, final_loss,
                   ExtractorFeatures.calibrated(encoder, FEATURES_LAYER, FIRST_LAYER, pixels))

    def features(self, pixels: np.ndarray) -> np.ndarray:
        """float64 FID features [N, SelfSupervisedConfig.fid_dim] of images in [-1, 1]."""
        return self.extractor.features(pixels)


def _filters(spec: ImageSpec) -> list[int]:
    """Per strided convolution down to 4x4: 64 filters there, halving towards the input,
    at least 16 (cheap at any size)."""
    halvings = int(np.log2(spec.size // 4))
    return [max(16, 64 >> (halvings - 1 - index)) for index in range(halvings)]


def build_encoder(spec: ImageSpec, config: SelfSupervisedConfig) -> keras.Model:
    """Strided convolutions down to 4x4 (`_filters`), then the tanh feature layer."""
    images = keras.Input(spec.shape)
    x = images
    for index, filters in enumerate(_filters(spec)):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same")(x)
        x = keras.layers.LeakyReLU(0.2, name=FIRST_LAYER if index == 0 else None)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(config.feature_dim, activation="tanh", name=FEATURES_LAYER)(x)
    return keras.Model(images, x, name="self_supervised_encoder")


def build_projection(config: SelfSupervisedConfig) -> keras.Model:
    """SimCLR's projection head: the loss is computed on its output, features come before it."""
    return keras.Sequential([keras.Input((config.feature_dim,)),
                             keras.layers.Dense(128, activation="relu"),
                             keras.layers.Dense(config.projection_dim)], name="projection")


def augmented_view(images: tf.Tensor, rng: tf.random.Generator) -> tf.Tensor:
    """A random horizontal flip, then DiffAugment's colour, translation and cutout."""
    flip = rng.uniform(tf.shape(images)[:1]) < 0.5
    images = tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)
    return augment.diff_augment(images, AUGMENTATIONS, rng)


def nt_xent(first: tf.Tensor, second: tf.Tensor, temperature: float) -> tf.Tensor:
    """SimCLR's loss: each view must pick its partner out of the other 2N - 2 views of the
    batch by cosine similarity."""
    views = tf.math.l2_normalize(tf.concat([first, second], 0), axis=1)
    count = tf.shape(first)[0]
    logits = tf.matmul(views, views, transpose_b=True) / temperature
    logits -= 1e9 * tf.eye(2 * count)  # a view is not its own partner
    partners = tf.concat([tf.range(count, 2 * count), tf.range(count)], 0)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(partners, logits))


@contextlib.contextmanager
def _op_determinism():
    """TensorFlow's deterministic op implementations while training, restored afterwards."""
    enabled = framework_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not enabled:
            framework_config.disable_op_determinism()


def train_self_supervised(pixels: np.ndarray, spec: ImageSpec,
                          config: SelfSupervisedConfig = SelfSupervisedConfig()
                          ) -> SelfSupervisedEncoder:
    """Trains on images in [-1, 1] for `config.images_seen` pairs of views."""
    if len(pixels) < 2:
        raise ValueError("the self_supervised FID extractor needs at least two training images")
    batch_size = min(config.batch_size, len(pixels))
    steps = max(1, config.images_seen // batch_size)
    start = time.monotonic()
    with _op_determinism():
        keras.utils.set_random_seed(config.seed)
        encoder = build_encoder(spec, config)
        projection = build_projection(config)
        optimizer = keras.optimizers.Adam(config.learning_rate)
        rng = tf.random.Generator.from_seed(config.seed)
        variables = encoder.trainable_variables + projection.trainable_variables

        @tf.function
        def step(batch):
            with tf.GradientTape() as tape:
                loss = nt_xent(projection(encoder(augmented_view(batch, rng), training=True)),
                               projection(encoder(augmented_view(batch, rng), training=True)),
                               config.temperature)
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        order_rng = np.random.default_rng(config.seed)
        order = np.empty(0, np.int64)
        losses = []
        for _ in range(steps):
            if len(order) < batch_size:  # a new epoch, in a seeded order
                order = np.concatenate([order, order_rng.permutation(len(pixels))])
            batch, order = order[:batch_size], order[batch_size:]
            losses.append(float(step(tf.constant(pixels[batch]))))
    final_loss = float(np.mean(losses[-10:]))
    logging.info("Self-supervised FID extractor: %d steps of %d image pairs in %.1f s, "
                 "final NT-Xent %.3f", steps, batch_size, time.monotonic() - start, final_loss)
    return SelfSupervisedEncoder.from_encoder(encoder, final_loss, pixels)


def cached_self_supervised(images: TrainingImages, seed: int, cache: FidCache | None
                           ) -> tuple[SelfSupervisedEncoder, str]:
    """The encoder trained on `images` with `seed`, and its identity: loaded from `cache`
    when an entry for the same images, settings and code (this module's and the
    augmentations') exists, else trained (and stored)."""
    config = SelfSupervisedConfig(seed=seed)
    code = b"".join(pathlib.Path(source).read_bytes()
                    for source in (__file__, augment.__file__, extractor_features.__file__))
    key = sha256_hex(images.fingerprint.encode(), repr(config).encode(), code)[:24]
    stored = cache.load(f"{CACHE_PREFIX}-{key}") if cache else None
    if stored is not None:
        encoder = build_encoder(images.spec, config)
        encoder.set_weights([stored[f"w{i}"] for i in range(len(encoder.weights))])
        model = SelfSupervisedEncoder.from_encoder(encoder, float(stored["final_loss"]),
                                                   from_uint8(images.pixels))
    else:
        model = train_self_supervised(from_uint8(images.pixels), images.spec, config)
        if cache:
            cache.save(f"{CACHE_PREFIX}-{key}", final_loss=model.final_loss,
                       **{f"w{i}": w for i, w in enumerate(model.encoder.get_weights())})
    return model, f"{CACHE_PREFIX}:{key}"
