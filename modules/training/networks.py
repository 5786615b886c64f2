"""DCGAN generator and discriminator whose depth follows the image size.

Both networks work at 4x4 at their narrow end and double (or halve) the
resolution once per level, so an 8x8 model has one up/down level and a 128x128
model has five; the channel width halves as the resolution doubles.
"""
from __future__ import annotations

import math

from modules.images import ImageSpec
from modules.keras import keras
from modules.training.config import NetworkConfig

BASE_RESOLUTION = 4
MAX_FILTERS = 512


def num_levels(spec: ImageSpec) -> int:
    return int(math.log2(spec.size // BASE_RESOLUTION))


def _width(base: int, level_from_full_resolution: int) -> int:
    return min(base * 2 ** level_from_full_resolution, MAX_FILTERS)


def build_generator(spec: ImageSpec, config: NetworkConfig) -> keras.Model:
    """Latent vectors [N, latent_dim] to images [N, size, size, channels] in [-1, 1]."""
    levels = num_levels(spec)
    noise = keras.Input((config.latent_dim,), name="noise")
    width = _width(config.generator_filters, levels)
    x = keras.layers.Dense(BASE_RESOLUTION * BASE_RESOLUTION * width, use_bias=False)(noise)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Reshape((BASE_RESOLUTION, BASE_RESOLUTION, width))(x)
    for level in reversed(range(levels)):
        x = keras.layers.Conv2DTranspose(_width(config.generator_filters, level), 4, strides=2,
                                         padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    # Outputs in float32 under mixed precision: tanh and the losses need the range.
    images = keras.layers.Conv2D(spec.channels, 3, padding="same", activation="tanh",
                                 name="images", dtype="float32")(x)
    return keras.Model(noise, images, name="generator")


def build_discriminator(spec: ImageSpec, config: NetworkConfig) -> keras.Model:
    """Images [N, size, size, channels] to one real-vs-fake logit each.

    With spectral normalization every weight layer is divided by its largest
    singular value (Miyato et al. 2018), which bounds D's Lipschitz constant.
    """
    def weighted(layer: keras.layers.Layer) -> keras.layers.Layer:
        return keras.layers.SpectralNormalization(layer) if config.spectral_normalization \
            else layer

    images = keras.Input(spec.shape, name="images")
    x = weighted(keras.layers.Conv2D(config.discriminator_filters, 3, padding="same"))(images)
    x = keras.layers.LeakyReLU(0.2)(x)
    for level in range(num_levels(spec)):
        x = weighted(keras.layers.Conv2D(_width(config.discriminator_filters, level + 1), 4,
                                         strides=2, padding="same"))(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten()(x)
    logits = weighted(keras.layers.Dense(1, dtype="float32"))(x)
    return keras.Model(images, logits, name="discriminator")
