"""Transform's `preprocessing_fn`: encoded image bytes to normalized square pixels.

Runs once over the data in Beam, so the Trainer and the evaluator read
ready-to-use float pixels and never decode images themselves.
"""
from __future__ import annotations

from typing import Any, Mapping

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import tensorflow as tf
import tensorflow_transform as tft

from modules import features
from modules.images import ImageSpec


def decode_to_pixels(encoded: tf.Tensor, spec: ImageSpec) -> tf.Tensor:
    """Decodes one PNG/JPEG/GIF/BMP string to float32 [size, size, channels] in [-1, 1]."""
    image = tf.io.decode_image(encoded, channels=spec.channels, dtype=tf.uint8,
                               expand_animations=False)
    image = tf.image.resize(tf.cast(image, tf.float32), [spec.size, spec.size],
                            method=tf.image.ResizeMethod.BILINEAR, antialias=True)
    image = tf.clip_by_value(tf.round(image), 0.0, 255.0)
    image = tf.ensure_shape(image / 127.5 - 1.0, spec.shape)
    return image


def image_spec_from_config(custom_config: Mapping[str, Any] | None) -> ImageSpec:
    config = custom_config or {}
    return ImageSpec(size=int(config.get("image_size", 8)),
                     channels=int(config.get("channels", 1)))


def preprocessing_fn(inputs: Mapping[str, tf.Tensor],
                     custom_config: Mapping[str, Any] | None = None) -> dict[str, tf.Tensor]:
    """Decodes, converts channels, resizes (antialiased) and scales images to [-1, 1].

    `custom_config` carries `image_size`, `channels` and `image_feature` (the
    name of the encoded-image feature, `image` unless the data says otherwise).
    The resize is rounded to whole pixel values, so the pixels equal what a
    uint8 image of the target size would hold: generated images are quantized
    the same way before FID compares them.
    """
    spec = image_spec_from_config(custom_config)
    image_key = (custom_config or {}).get("image_feature", features.IMAGE)
    encoded = _dense(inputs[image_key], default=b"")
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
