"""DiffAugment on images whose augmented form is known."""
import numpy as np
import pytest
import tensorflow as tf

from modules.training.augment import _shift, cutout, diff_augment


def test_shift_moves_each_image_by_its_own_offset_and_fills_with_zeros():
    images = tf.reshape(tf.range(1, 2 * 16 + 1, dtype=tf.float32), (2, 4, 4, 1))
    shifted = _shift(images, tf.constant([1, -2]), axis=1).numpy()
    # Output row i is input row i + offset.
    np.testing.assert_array_equal(shifted[0, :3], images.numpy()[0, 1:])
    np.testing.assert_array_equal(shifted[0, 3], 0)
    np.testing.assert_array_equal(shifted[1, 2:], images.numpy()[1, :2])
    np.testing.assert_array_equal(shifted[1, :2], 0)


def test_cutout_zeroes_one_square_of_half_the_image_size():
    images = tf.ones((5, 8, 8, 3))
    out = cutout(images, tf.random.Generator.from_seed(0)).numpy()
    zeroed = (out == 0).all(axis=3)
    for mask in zeroed:
        rows, columns = np.nonzero(mask)
        assert 0 < mask.sum() <= 16  # a 4x4 square, clipped at the border
        assert mask.sum() == (np.ptp(rows) + 1) * (np.ptp(columns) + 1)


@pytest.mark.parametrize("policy", [("color",), ("translation",), ("cutout",),
                                    ("color", "translation", "cutout")])
def test_augmentations_keep_the_shape_and_pass_gradients(policy):
    images = tf.random.uniform((4, 8, 8, 3), -1, 1)
    with tf.GradientTape() as tape:
        tape.watch(images)
        augmented = diff_augment(images, policy, tf.random.Generator.from_seed(1))
        total = tf.reduce_sum(augmented)
    assert augmented.shape == images.shape
    gradient = tape.gradient(total, images)
    assert gradient is not None and float(tf.reduce_sum(tf.abs(gradient))) > 0


def test_empty_policy_is_the_identity():
    images = tf.random.uniform((2, 8, 8, 1))
    assert diff_augment(images, (), tf.random.Generator.from_seed(0)) is images


def test_each_augmentation_reaches_each_image_with_the_given_probability():
    images = tf.ones((400, 8, 8, 1))
    rng = tf.random.Generator.from_seed(0)
    assert np.array_equal(diff_augment(images, ("cutout",), rng, tf.constant(0.0)), images)
    cut = (diff_augment(images, ("cutout",), rng, tf.constant(1.0)).numpy() == 0).any(
        axis=(1, 2, 3))
    assert cut.all()
    cut = (diff_augment(images, ("cutout",), rng, tf.constant(0.25)).numpy() == 0).any(
        axis=(1, 2, 3))
    assert 0.18 < cut.mean() < 0.32  # 100 +- 3.5 standard deviations of 400 images
