"""Transform's preprocessing_fn on ingested PNGs: exact scaling, shapes, unlabeled ids."""
import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from modules import features
from modules.images import IMAGE_KEY, ImageSpec, from_uint8, to_uint8
from modules.preprocessing import decode_to_pixels, preprocessing_fn


def png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_same_size_grayscale_is_scaled_exactly_to_minus_one_one():
    pixels = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    out = decode_to_pixels(tf.constant(png(pixels)), ImageSpec(8, 1)).numpy()
    np.testing.assert_allclose(out[..., 0], pixels / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_array_equal(to_uint8(out)[..., 0], pixels)


def test_rgb_png_is_scaled_exactly_and_a_png_of_another_shape_is_refused():
    pixels = np.random.default_rng(0).integers(0, 256, (8, 8, 3), np.uint8)
    out = decode_to_pixels(tf.constant(png(pixels)), ImageSpec(8, 3)).numpy()
    np.testing.assert_array_equal(to_uint8(out), pixels)
    # Ingest resizes every image; a PNG of another size means the data bypassed it.
    with pytest.raises(tf.errors.InvalidArgumentError):
        decode_to_pixels(tf.constant(png(pixels[:4])), ImageSpec(8, 3))


def test_preprocessing_fn_outputs_pixels_and_unlabeled_ids():
    batch = tf.constant([png(np.zeros((8, 8), np.uint8)), png(np.full((8, 8), 255, np.uint8))])
    outputs = preprocessing_fn({features.IMAGE: batch}, {IMAGE_KEY: ImageSpec(8, 1).to_json()})
    assert outputs[features.PIXELS].shape == (2, 8, 8, 1)
    np.testing.assert_allclose(outputs[features.PIXELS].numpy()[0], -1.0)
    np.testing.assert_allclose(outputs[features.PIXELS].numpy()[1], 1.0)
    np.testing.assert_array_equal(outputs[features.LABEL_ID].numpy(), [-1, -1])


def test_quantization_round_trips():
    levels = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(to_uint8(from_uint8(levels)), levels)
