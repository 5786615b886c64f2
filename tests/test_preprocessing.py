"""The decode/convert/resize/scale path of Transform's preprocessing_fn, on known images."""
import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from modules import features
from modules.images import ImageSpec, from_uint8, to_uint8
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


def test_rgb_to_one_channel_uses_luma_and_gray_to_three_repeats():
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0] = 255  # pure red
    gray = decode_to_pixels(tf.constant(png(rgb)), ImageSpec(8, 1)).numpy()
    assert gray.shape == (8, 8, 1)
    # TensorFlow's RGB->gray weights: 0.2989 R + 0.587 G + 0.114 B.
    assert to_uint8(gray)[0, 0, 0] == pytest.approx(0.2989 * 255, abs=1)
    three = decode_to_pixels(tf.constant(png(np.full((8, 8), 200, np.uint8))), ImageSpec(8, 3))
    np.testing.assert_array_equal(to_uint8(three.numpy()), np.full((8, 8, 3), 200, np.uint8))


def test_downscaling_is_antialiased():
    checkerboard = (np.indices((32, 32)).sum(axis=0) % 2 * 255).astype(np.uint8)
    out = to_uint8(decode_to_pixels(tf.constant(png(checkerboard)), ImageSpec(8, 1)).numpy())
    # An antialiased resize averages the checkerboard to mid-gray, not to aliased stripes.
    assert np.all(np.abs(out.astype(int) - 128) <= 2)


def test_preprocessing_fn_outputs_pixels_and_unlabeled_ids():
    batch = tf.constant([png(np.zeros((16, 16), np.uint8)), png(np.full((4, 4), 255, np.uint8))])
    outputs = preprocessing_fn({features.IMAGE: batch}, {"image_size": 8, "channels": 1})
    assert outputs[features.PIXELS].shape == (2, 8, 8, 1)
    np.testing.assert_allclose(outputs[features.PIXELS].numpy()[0], -1.0)
    np.testing.assert_allclose(outputs[features.PIXELS].numpy()[1], 1.0)
    np.testing.assert_array_equal(outputs[features.LABEL_ID].numpy(), [-1, -1])


def test_quantization_round_trips():
    levels = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(to_uint8(from_uint8(levels)), levels)
