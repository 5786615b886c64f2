"""DiffAugment (Zhao et al. 2020): differentiable augmentations applied identically to
real and generated images before the discriminator sees them.

On small datasets the discriminator memorizes the training images and its
feedback to the generator collapses; augmenting both sides (and letting the
generator's gradient flow through the augmentation) keeps D honest without the
augmentations leaking into the generated images.
"""
from __future__ import annotations

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import tensorflow as tf

from modules.training.config import AUGMENTATIONS

TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def _uniform(rng: tf.random.Generator, images: tf.Tensor, shape_tail=(1, 1, 1)) -> tf.Tensor:
    return tf.cast(rng.uniform(tf.concat([tf.shape(images)[:1], shape_tail], 0)), images.dtype)


def color(images, rng):
    """Random brightness, saturation and contrast per image."""
    images = images + (_uniform(rng, images) - 0.5)
    mean = tf.reduce_mean(images, axis=3, keepdims=True)
    images = (images - mean) * (_uniform(rng, images) * 2.0) + mean
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    return (images - mean) * (_uniform(rng, images) + 0.5) + mean


def _shift(images, offsets, axis):
    """Shifts each image by its own offset along `axis` (1: rows, 2: columns), zero-filled."""
    size = tf.shape(images)[axis]
    padding = [[0, 0]] * 4
    padding[axis] = [1, 1]
    padded = tf.pad(images, padding)
    # Index 0 and size + 1 of the padded axis are zeros: out-of-range pixels land there.
    indices = tf.clip_by_value(tf.range(size)[None, :] + offsets[:, None] + 1, 0, size + 1)
    return tf.gather(padded, indices, axis=axis, batch_dims=1)


def translation(images, rng):
    """Random shift by up to 1/8 of the image in each direction."""
    size = images.shape[1]
    limit = int(size * TRANSLATION_RATIO + 0.5)
    batch = tf.shape(images)[:1]
    rows = rng.uniform_full_int(batch, tf.int32) % (2 * limit + 1) - limit
    columns = rng.uniform_full_int(batch, tf.int32) % (2 * limit + 1) - limit
    return _shift(_shift(images, rows, axis=1), columns, axis=2)


def cutout(images, rng):
    """Zeroes one random square of half the image size per image."""
    size = images.shape[1]
    half = int(size * CUTOUT_RATIO + 0.5) // 2
    centers = rng.uniform_full_int(tf.concat([tf.shape(images)[:1], [2]], 0), tf.int32) % size
    grid = tf.range(size)
    inside_rows = tf.abs(grid[None, :] - centers[:, :1]) < half
    inside_columns = tf.abs(grid[None, :] - centers[:, 1:]) < half
    inside = tf.logical_and(inside_rows[:, :, None], inside_columns[:, None, :])
    return images * tf.cast(tf.logical_not(inside), images.dtype)[..., None]


_FUNCTIONS = {"color": color, "translation": translation, "cutout": cutout}
assert tuple(_FUNCTIONS) == AUGMENTATIONS, "keep training_config.AUGMENTATIONS in step"


def diff_augment(images: tf.Tensor, policy: tuple[str, ...], rng: tf.random.Generator,
                 probability: tf.Tensor | None = None) -> tf.Tensor:
    """Applies the named augmentations in order; the empty policy is the identity. With a
    `probability`, each augmentation reaches each image with that probability (as
    StyleGAN2-ADA's pipeline applies its own), else every image gets every one."""
    for name in policy:
        augmented = _FUNCTIONS[name](images, rng)
        if probability is not None:
            chosen = _uniform(rng, images) < tf.cast(probability, images.dtype)
            augmented = tf.where(chosen, augmented, images)
        images = augmented
    return images
