"""The serving SavedModel: only the generator, callable with nothing but TensorFlow.

TF Serving (and any process that imports only TensorFlow) loads this without
project code or Keras custom objects: the signature is a plain tf.function over
the generator's variables.
"""
from __future__ import annotations

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import tensorflow as tf

from modules.keras import keras

SERVING_SIGNATURE = "serving_default"
NOISE_INPUT = "noise"
IMAGES_OUTPUT = "images"


class GeneratorServing(tf.Module):
    """`serving_default`: noise float32 [N, latent_dim] -> images float32 [N, H, W, C] in [0, 1]."""

    def __init__(self, generator: keras.Model):
        super().__init__(name="generator_serving")
        self.generator = generator
        latent_dim = int(generator.input_shape[-1])
        self.serve = tf.function(
            self._serve,
            input_signature=[tf.TensorSpec([None, latent_dim], tf.float32, name=NOISE_INPUT)])

    def _serve(self, noise):
        images = self.generator(noise, training=False)
        return {IMAGES_OUTPUT: tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) / 2.0, 0.0, 1.0)}


def export_generator(generator: keras.Model, export_dir: str) -> None:
    module = GeneratorServing(generator)
    tf.saved_model.save(module, export_dir, signatures={SERVING_SIGNATURE: module.serve})
