import numpy as np
import pytest

from modules.training.losses import (HingeLoss, LeastSquaresLoss, NonSaturatingLoss,
                                     WassersteinGradientPenaltyLoss, get_loss, r1_penalty)

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


def test_hinge_matches_closed_form():
    loss = HingeLoss()
    expected_d = np.mean(np.maximum(0, 1 - REAL)) + np.mean(np.maximum(0, 1 + FAKE))
    assert float(loss.discriminator_loss(REAL, FAKE)) == pytest.approx(expected_d, rel=1e-6)
    assert float(loss.generator_loss(FAKE)) == pytest.approx(-np.mean(FAKE), rel=1e-6)
    # Logits past the margin contribute nothing: D stops pushing them.
    assert float(loss.discriminator_loss(np.full((2, 1), 3.0, np.float32),
                                         np.full((2, 1), -3.0, np.float32))) == 0.0


def test_wasserstein_matches_closed_form():
    loss = WassersteinGradientPenaltyLoss()
    assert float(loss.discriminator_loss(REAL, FAKE)) == pytest.approx(
        np.mean(FAKE) - np.mean(REAL), rel=1e-6)
    assert float(loss.generator_loss(FAKE)) == pytest.approx(-np.mean(FAKE), rel=1e-6)


def linear_critic(slope: float):
    """D(x) = slope * sum(x): its input gradient has norm |slope| * sqrt(pixels) everywhere."""
    import tensorflow as tf

    return lambda images, training=False: slope * tf.reduce_sum(images, axis=[1, 2, 3])[:, None]


def test_gradient_penalty_on_a_critic_with_known_gradient_norm():
    import tensorflow as tf

    real = tf.zeros((4, 2, 2, 1))  # 4 pixels: gradient norm = slope * 2
    fake = tf.ones((4, 2, 2, 1))
    rng = tf.random.Generator.from_seed(0)
    loss = WassersteinGradientPenaltyLoss(penalty_weight=10.0)
    penalty = loss.discriminator_penalty(linear_critic(1.5), real, fake, rng)
    assert float(penalty) == pytest.approx(10.0 * (3.0 - 1.0) ** 2, rel=1e-5)
    assert float(loss.discriminator_penalty(linear_critic(0.5), real, fake, rng)) == \
        pytest.approx(0.0, abs=1e-5)


def test_other_losses_have_no_penalty():
    import tensorflow as tf

    images = tf.zeros((2, 2, 2, 1))
    for loss in (NonSaturatingLoss(), LeastSquaresLoss(), HingeLoss()):
        assert float(loss.discriminator_penalty(linear_critic(3.0), images, images,
                                                tf.random.Generator.from_seed(0))) == 0.0


def test_r1_penalty_is_half_weight_times_squared_gradient_norm():
    import tensorflow as tf

    real = tf.random.normal((3, 2, 2, 1))
    assert float(r1_penalty(linear_critic(2.0), real, weight=0.5)) == pytest.approx(
        0.5 * 0.5 * (2.0 * 2.0) ** 2, rel=1e-5)
