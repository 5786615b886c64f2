import numpy as np
import pytest

from modules.losses import LeastSquaresLoss, NonSaturatingLoss, get_loss

REAL = np.array([[2.0], [-1.0], [0.5]], np.float32)
FAKE = np.array([[-3.0], [0.0], [1.5]], np.float32)


def softplus(x):
    return np.log1p(np.exp(x))


def test_non_saturating_matches_closed_form():
    loss = NonSaturatingLoss()
    # D: -log sigmoid(real) - log(1 - sigmoid(fake)); G: -log sigmoid(fake).
    expected_d = np.mean(-np.log(1 / (1 + np.exp(-REAL)))) + np.mean(
        -np.log(1 - 1 / (1 + np.exp(-FAKE))))
    expected_g = np.mean(-np.log(1 / (1 + np.exp(-FAKE))))
    assert float(loss.discriminator_loss(REAL, FAKE)) == pytest.approx(expected_d, rel=1e-5)
    assert float(loss.generator_loss(FAKE)) == pytest.approx(expected_g, rel=1e-5)
    assert float(loss.generator_loss(FAKE)) == pytest.approx(np.mean(softplus(-FAKE)), rel=1e-5)


def test_non_saturating_is_log4_at_chance():
    loss = NonSaturatingLoss()
    zeros = np.zeros((4, 1), np.float32)
    assert float(loss.discriminator_loss(zeros, zeros)) == pytest.approx(2 * np.log(2), rel=1e-6)


def test_least_squares_matches_closed_form():
    loss = LeastSquaresLoss()
    expected_d = 0.5 * (np.mean((REAL - 1) ** 2) + np.mean(FAKE ** 2))
    expected_g = 0.5 * np.mean((FAKE - 1) ** 2)
    assert float(loss.discriminator_loss(REAL, FAKE)) == pytest.approx(expected_d, rel=1e-6)
    assert float(loss.generator_loss(FAKE)) == pytest.approx(expected_g, rel=1e-6)


def test_losses_are_float32_for_bfloat16_logits():
    import tensorflow as tf

    loss = NonSaturatingLoss()
    value = loss.discriminator_loss(tf.constant(REAL, tf.bfloat16), tf.constant(FAKE, tf.bfloat16))
    assert value.dtype == tf.float32


def test_unknown_loss_is_named_in_the_error():
    with pytest.raises(ValueError, match="wasserstein"):
        get_loss("wasserstein")
