"""The serving SavedModel: only the generator, callable with nothing but TensorFlow.

TF Serving (and any process that imports only TensorFlow) loads this without
project code or Keras custom objects: every signature is a plain tf.function
over the generator's variables.

Signatures (see docs/serving.md):
- `serving_default`: `noise` float32 [N, latent_dim] -> `images` float32 [N, H, W, C] in
  [0, 1]; N from 1 to `max_samples`.
- `generate`: `num_samples` int32 and `seed` int64 scalars -> `images_png_bytes` only (PNG
  strings; TF Serving's REST API returns them base64-encoded because the name ends in
  `_bytes`), so no float tensor travels with the images. The same seed gives the same images.
- `metadata`: `dummy` int32 scalar (ignored: TF Serving's REST API refuses a signature
  without inputs) -> `metadata`, a JSON string read from the model's `assets/metadata.json`,
  which the pusher completes with the FID at push time.

Every check on a request is a control dependency of the work it guards, so a refused
request allocates nothing: TensorFlow runs an assert when its inputs are ready, not
before the ops beside it.
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Callable

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf

from modules.features import COMPRESSED_PRECISIONS
from modules.keras import keras

SERVING_SIGNATURE = "serving_default"
GENERATE_SIGNATURE = "generate"
METADATA_SIGNATURE = "metadata"
NOISE_INPUT = "noise"
NUM_SAMPLES_INPUT = "num_samples"
SEED_INPUT = "seed"
METADATA_INPUT = "dummy"
IMAGES_OUTPUT = "images"
PNG_OUTPUT = "images_png_bytes"
METADATA_OUTPUT = "metadata"
METADATA_ASSET = "metadata.json"
DEFAULT_MAX_SAMPLES = 256
# Weight tensors with fewer elements stay float32 (biases, batch-norm statistics).
MIN_COMPRESSED_ELEMENTS = 256


def num_samples_message(max_samples: int) -> str:
    return f"num_samples must be between 1 and {max_samples}"


def noise_rows_message(max_samples: int) -> str:
    return f"noise must have between 1 and {max_samples} rows"


class GeneratorServing(tf.Module):
    """The three signatures around `images_fn` (noise -> float32 images in [0, 1])."""

    def __init__(self, images_fn: Callable[[tf.Tensor], tf.Tensor], latent_dim: int,
                 metadata_path: str, max_samples: int):
        super().__init__(name="generator_serving")
        if max_samples < 1:
            raise ValueError(f"max_samples must be at least 1, got {max_samples}")
        self.images_fn = images_fn
        self.latent_dim = latent_dim
        self.max_samples = max_samples
        self.metadata_asset = tf.saved_model.Asset(metadata_path)
        self.serve = tf.function(self._serve, input_signature=[
            tf.TensorSpec([None, latent_dim], tf.float32, name=NOISE_INPUT)])
        self.generate = tf.function(self._generate, input_signature=[
            tf.TensorSpec([], tf.int32, name=NUM_SAMPLES_INPUT),
            tf.TensorSpec([], tf.int64, name=SEED_INPUT)])
        self.metadata = tf.function(self._metadata, input_signature=[
            tf.TensorSpec([], tf.int32, name=METADATA_INPUT)])

    def _checked_count(self, count: tf.Tensor, message: str) -> tf.Tensor:
        """`count`, released only after it passed the 1..max_samples check."""
        checks = [tf.debugging.assert_greater_equal(count, 1, message=message),
                  tf.debugging.assert_less_equal(count, self.max_samples, message=message)]
        with tf.control_dependencies(checks):
            return tf.identity(count)

    def _serve(self, noise):
        rows = self._checked_count(tf.shape(noise)[0], noise_rows_message(self.max_samples))
        with tf.control_dependencies([rows]):
            return {IMAGES_OUTPUT: self.images_fn(tf.identity(noise))}

    def _generate(self, num_samples, seed):
        count = self._checked_count(num_samples, num_samples_message(self.max_samples))
        noise = tf.random.stateless_normal(
            tf.stack([count, self.latent_dim]), seed=tf.stack([seed, tf.constant(0, tf.int64)]))
        pixels = tf.cast(tf.round(self.images_fn(noise) * 255.0), tf.uint8)
        png = tf.map_fn(tf.io.encode_png, pixels, fn_output_signature=tf.string)
        return {PNG_OUTPUT: png}

    def _metadata(self, dummy):
        del dummy
        return {METADATA_OUTPUT: tf.io.read_file(self.metadata_asset)}


def keras_images_fn(generator: keras.Model) -> Callable[[tf.Tensor], tf.Tensor]:
    def images(noise):
        raw = generator(noise, training=False)
        return tf.clip_by_value((tf.cast(raw, tf.float32) + 1.0) / 2.0, 0.0, 1.0)
    return images


def export_generator(generator: keras.Model, export_dir: str, metadata: dict,
                     max_samples: int = DEFAULT_MAX_SAMPLES) -> None:
    """Saves the generator with the three signatures; `metadata` goes into the asset."""
    _save(keras_images_fn(generator), int(generator.input_shape[-1]), export_dir, metadata,
          max_samples, generator)


def _save(images_fn, latent_dim: int, export_dir: str, metadata: dict, max_samples: int,
          tracked=None) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        metadata_path = os.path.join(scratch, METADATA_ASSET)
        with open(metadata_path, "w") as out:
            json.dump({**metadata, "max_samples": max_samples}, out, sort_keys=True)
        module = GeneratorServing(images_fn, latent_dim, metadata_path, max_samples)
        module.generator = tracked  # the variables the signatures read, if any
        tf.saved_model.save(module, export_dir, signatures={
            SERVING_SIGNATURE: module.serve,
            GENERATE_SIGNATURE: module.generate,
            METADATA_SIGNATURE: module.metadata,
        })


def metadata_asset_path(saved_model_dir: str) -> str:
    return os.path.join(saved_model_dir, "assets", METADATA_ASSET)


def read_metadata(saved_model_dir: str) -> dict:
    with open(metadata_asset_path(saved_model_dir)) as source:
        return json.load(source)


def export_compressed(saved_model_dir: str, export_dir: str, precision: str) -> None:
    """Saves a copy of an exported generator whose weights are stored as `precision`.

    float16: each weight tensor rounded to half precision; int8: symmetric dynamic-range
    quantization, one float32 scale per output channel (the last axis). Weights are
    de-quantized to float32 inside the graph, so the copy has the same signatures and runs
    on the same TF Serving; it is smaller on disk, not faster.
    """
    if precision not in COMPRESSED_PRECISIONS:
        raise ValueError(f"precision must be one of {COMPRESSED_PRECISIONS}, got {precision!r}")
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)

    loaded = tf.saved_model.load(saved_model_dir)  # owns the variables while they are frozen
    frozen = convert_variables_to_constants_v2(loaded.signatures[SERVING_SIGNATURE],
                                               aggressive_inlining=True)
    graph_def = _compress_constants(frozen.graph.as_graph_def(), precision)
    (noise,), (images,) = frozen.inputs, frozen.outputs
    wrapped = tf.compat.v1.wrap_function(
        lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
    images_fn = wrapped.prune(wrapped.graph.get_tensor_by_name(noise.name),
                              wrapped.graph.get_tensor_by_name(images.name))
    metadata = {**read_metadata(saved_model_dir), "weights": precision}
    _save(images_fn, int(noise.shape[-1]), export_dir, metadata,
          int(metadata.get("max_samples", DEFAULT_MAX_SAMPLES)))


def _compress_constants(graph_def, precision: str):
    """Replaces each large float32 constant X by a compressed constant and the ops that
    rebuild X in float32 under the same node name, so every reference to X still holds."""
    out = tf.compat.v1.GraphDef()
    out.CopyFrom(graph_def)
    del out.node[:]
    for node in graph_def.node:
        value = (tf.make_ndarray(node.attr["value"].tensor)
                 if node.op == "Const" and node.attr["dtype"].type == tf.float32.as_datatype_enum
                 else None)
        if value is None or value.ndim < 2 or value.size < MIN_COMPRESSED_ELEMENTS:
            out.node.add().CopyFrom(node)
            continue
        if precision == "float16":
            stored = _const(out, node.name + "/float16", value.astype(np.float16))
            _cast(out, node.name, stored, tf.float16)
            continue
        scale = np.abs(value).reshape(-1, value.shape[-1]).max(axis=0) / 127.0
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        quantized = np.clip(np.round(value / scale), -127, 127).astype(np.int8)
        stored = _const(out, node.name + "/int8", quantized)
        widened = _cast(out, node.name + "/dequantized", stored, tf.int8)
        multiply = out.node.add(name=node.name, op="Mul", input=[
            widened, _const(out, node.name + "/scale", scale)])
        multiply.attr["T"].type = tf.float32.as_datatype_enum
    return out


def _const(graph_def, name: str, value: np.ndarray) -> str:
    node = graph_def.node.add(name=name, op="Const")
    node.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
    node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
    return name


def _cast(graph_def, name: str, source: str, source_dtype: tf.DType) -> str:
    node = graph_def.node.add(name=name, op="Cast", input=[source])
    node.attr["SrcT"].type = source_dtype.as_datatype_enum
    node.attr["DstT"].type = tf.float32.as_datatype_enum
    return name
