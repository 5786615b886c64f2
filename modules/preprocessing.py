"""Transform's `preprocessing_fn`: the ingested PNGs to float pixels, labels to ids.

Ingest has already oriented, converted, squared and resized every image
(`components.ingest.decoding`), so here a PNG of exactly the configured shape is
decoded and scaled. Runs once over the data in Beam, so the Trainer and the
evaluator read ready-to-use float pixels and never decode images themselves.
"""
from __future__ import annotations

from typing import Any, Mapping

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import tensorflow as tf
import tensorflow_transform as tft

from modules import features
from modules.images import IMAGE_KEY, ImageSpec


def decode_to_pixels(encoded: tf.Tensor, spec: ImageSpec) -> tf.Tensor:
    """Decodes one ingested PNG [size, size, channels] to float32 in [-1, 1]."""
    image = tf.ensure_shape(tf.io.decode_png(encoded, channels=spec.channels), spec.shape)
    return tf.cast(image, tf.float32) / 127.5 - 1.0


def preprocessing_fn(inputs: Mapping[str, tf.Tensor],
                     custom_config: Mapping[str, Any]) -> dict[str, tf.Tensor]:
    """Decodes and scales images to [-1, 1]; turns labels into vocabulary ids.

    `custom_config[IMAGE_KEY]` is the `ImageSpec` as JSON. The pixels are whole
    uint8 values, as the ingested PNGs hold them: generated images are
    quantized the same way before FID compares them.
    """
    spec = ImageSpec.from_json(custom_config[IMAGE_KEY])
    encoded = _dense(inputs[features.IMAGE], default=b"")
    pixels = tf.map_fn(lambda one: decode_to_pixels(one, spec), encoded,
                       fn_output_signature=tf.TensorSpec(spec.shape, tf.float32))
    outputs = {features.PIXELS: pixels}
    if features.LABEL in inputs:
        labels = _dense(inputs[features.LABEL], default=b"")
        label_ids = tft.compute_and_apply_vocabulary(
            labels, default_value=-1, vocab_filename=features.LABEL_VOCABULARY)
        outputs[features.LABEL_ID] = tf.where(labels == b"", tf.constant(-1, tf.int64), label_ids)
    else:
        outputs[features.LABEL_ID] = tf.fill(tf.shape(encoded), tf.constant(-1, tf.int64))
    return outputs


def _dense(tensor: tf.Tensor | tf.SparseTensor, default) -> tf.Tensor:
    """Turns a single-valued feature into a dense [batch] tensor, whatever its schema shape."""
    if isinstance(tensor, tf.SparseTensor):
        tensor = tf.sparse.to_dense(tensor, default_value=default)
    if tensor.shape.rank == 2:
        tensor = tensor[:, 0]
    return tensor
