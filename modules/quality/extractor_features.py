"""The features FID sees from a trained extractor: its learned features and, beside them, the
mean and spread of each channel of its first layer over the image.

Why both: the learned features (the domain classifier's or the self-supervised encoder's
tanh layer) are trained to be invariant to what does not tell classes or views apart, and
blur, pixel noise and inputs unlike any image are among those; bounded by tanh, uniform
noise lands inside the cloud of real images. The first layer's channel statistics are
texture: blur lowers them, noise raises them, noise sends them far from every real image.
Measured by `benchmarks.metric_sanity`: with the learned features alone, FID ranked one
repeated image above uniform noise on every data kind but one, and did not see heavy blur
on photo crops; with both, the ranking holds on digits, photos and objects.

The texture block is standardized on the extractor's training images and scaled so its
total variance there is `TEXTURE_SHARE` of the learned block's: the learned features
still carry most of FID (diversity and content; one image repeated must stay worse than
heavy blur), the texture block makes degraded images count.
"""
from __future__ import annotations

import dataclasses

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf

from modules.keras import keras

TEXTURE_SHARE = 0.25


def texture_dim(first_layer_filters: int) -> int:
    """Dimensions the texture block adds: a mean and a spread per first-layer channel."""
    return 2 * first_layer_filters


def _channel_spread(activations: tf.Tensor) -> tf.Tensor:
    return tf.math.reduce_std(activations, axis=[1, 2])


@dataclasses.dataclass
class ExtractorFeatures:
    """Images in [-1, 1] to [learned features, scaled texture statistics] (float64)."""

    parts: keras.Model        # images to (learned features, channel means, channel spreads)
    texture_mean: np.ndarray  # of the texture statistics on the training images
    texture_scale: np.ndarray

    @classmethod
    def calibrated(cls, network: keras.Model, features_layer: str, first_layer: str,
                   pixels: np.ndarray) -> "ExtractorFeatures":
        """For `network`'s `features_layer` and `first_layer` (an activation [N, H, W, C]),
        calibrated on its training images `pixels` (in [-1, 1])."""
        first = network.get_layer(first_layer).output
        parts = keras.Model(network.input, [
            network.get_layer(features_layer).output,
            keras.layers.GlobalAveragePooling2D()(first),
            keras.layers.Lambda(_channel_spread)(first)])
        learned, texture = _predict(parts, pixels)
        spread = texture.std(axis=0)
        spread[spread == 0] = 1.0
        scale = np.sqrt(TEXTURE_SHARE * learned.var(axis=0).sum() / texture.shape[1]) / spread
        return cls(parts, texture.mean(axis=0), scale)

    def features(self, pixels: np.ndarray) -> np.ndarray:
        learned, texture = _predict(self.parts, pixels)
        return np.concatenate([learned, (texture - self.texture_mean) * self.texture_scale], 1)

    def learned_features(self, pixels: np.ndarray) -> np.ndarray:
        return _predict(self.parts, pixels)[0]

    def tf_features(self, images: tf.Tensor) -> tf.Tensor:
        """`features` as a TensorFlow function of images in [-1, 1], to export."""
        learned, means, spreads = self.parts(images)
        texture = (tf.concat([means, spreads], 1) - self.texture_mean) * self.texture_scale
        return tf.concat([learned, tf.cast(texture, learned.dtype)], 1)


def _predict(parts: keras.Model, pixels: np.ndarray, batch_size: int = 256):
    learned, means, spreads = parts.predict(pixels, batch_size=batch_size, verbose=0)
    return (learned.astype(np.float64),
            np.concatenate([means, spreads], 1).astype(np.float64))
