"""The serving SavedModel: only the generator, callable with nothing but TensorFlow.

TF Serving (and any process that imports only TensorFlow) loads this without
project code or Keras custom objects: every signature is a plain tf.function
over the generator's variables.

Signatures:
- `serving_default`: `noise` float32 [N, latent_dim] -> `images` float32 [N, H, W, C] in [0, 1].
- `generate`: `num_samples` int32 and `seed` int64 scalars -> `images` as above and
  `images_png_bytes` (PNG strings; TF Serving's REST API returns them base64-encoded
  because the name ends in `_bytes`). The same seed gives the same images.
- `metadata`: no inputs -> `metadata`, a JSON string read from the model's
  `assets/metadata.json`, which the pusher completes with the FID at push time.
"""
from __future__ import annotations

import json
import os
import tempfile

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import tensorflow as tf

from modules.keras import keras

SERVING_SIGNATURE = "serving_default"
GENERATE_SIGNATURE = "generate"
METADATA_SIGNATURE = "metadata"
NOISE_INPUT = "noise"
NUM_SAMPLES_INPUT = "num_samples"
SEED_INPUT = "seed"
IMAGES_OUTPUT = "images"
PNG_OUTPUT = "images_png_bytes"
METADATA_OUTPUT = "metadata"
METADATA_ASSET = "metadata.json"
DEFAULT_MAX_SAMPLES = 256


class GeneratorServing(tf.Module):
    def __init__(self, generator: keras.Model, metadata_path: str, max_samples: int):
        super().__init__(name="generator_serving")
        if max_samples < 1:
            raise ValueError(f"max_samples must be at least 1, got {max_samples}")
        self.generator = generator
        self.latent_dim = int(generator.input_shape[-1])
        self.max_samples = max_samples
        self.metadata_asset = tf.saved_model.Asset(metadata_path)
        self.serve = tf.function(self._serve, input_signature=[
            tf.TensorSpec([None, self.latent_dim], tf.float32, name=NOISE_INPUT)])
        self.generate = tf.function(self._generate, input_signature=[
            tf.TensorSpec([], tf.int32, name=NUM_SAMPLES_INPUT),
            tf.TensorSpec([], tf.int64, name=SEED_INPUT)])
        self.metadata = tf.function(self._metadata, input_signature=[])

    def _images(self, noise):
        images = self.generator(noise, training=False)
        return tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) / 2.0, 0.0, 1.0)

    def _serve(self, noise):
        return {IMAGES_OUTPUT: self._images(noise)}

    def _generate(self, num_samples, seed):
        tf.debugging.assert_greater_equal(
            num_samples, 1, message=f"num_samples must be between 1 and {self.max_samples}")
        tf.debugging.assert_less_equal(
            num_samples, self.max_samples,
            message=f"num_samples must be between 1 and {self.max_samples}")
        noise = tf.random.stateless_normal(
            tf.stack([num_samples, self.latent_dim]), seed=tf.stack([seed, tf.constant(0, tf.int64)]))
        images = self._images(noise)
        pixels = tf.cast(tf.round(images * 255.0), tf.uint8)
        png = tf.map_fn(tf.io.encode_png, pixels, fn_output_signature=tf.string)
        return {IMAGES_OUTPUT: images, PNG_OUTPUT: png}

    def _metadata(self):
        return {METADATA_OUTPUT: tf.io.read_file(self.metadata_asset)}


def export_generator(generator: keras.Model, export_dir: str, metadata: dict,
                     max_samples: int = DEFAULT_MAX_SAMPLES) -> None:
    """Saves the generator with the three signatures; `metadata` goes into the asset."""
    with tempfile.TemporaryDirectory() as scratch:
        metadata_path = os.path.join(scratch, METADATA_ASSET)
        with open(metadata_path, "w") as out:
            json.dump(metadata, out, sort_keys=True)
        module = GeneratorServing(generator, metadata_path, max_samples)
        tf.saved_model.save(module, export_dir, signatures={
            SERVING_SIGNATURE: module.serve,
            GENERATE_SIGNATURE: module.generate,
            METADATA_SIGNATURE: module.metadata,
        })


def metadata_asset_path(saved_model_dir: str) -> str:
    return os.path.join(saved_model_dir, "assets", METADATA_ASSET)
