"""GAN losses behind one interface, so the training step does not care which is used.

Each loss turns discriminator logits into the two players' losses and may add a
penalty that needs the discriminator itself (WGAN-GP's gradient penalty); the
R1 penalty works with any loss and is added by the train step when configured.
"""
from __future__ import annotations

import abc

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import tensorflow as tf

from modules.training.config import LOSS_NAMES


def _f32(logits) -> tf.Tensor:
    """Losses are computed in float32 whatever precision the networks run in."""
    return tf.cast(logits, tf.float32)


def gradient_norms(discriminator, images: tf.Tensor) -> tf.Tensor:
    """Per-image L2 norm of dD(x)/dx, float32 [N]."""
    with tf.GradientTape() as tape:
        tape.watch(images)
        # Each logit depends on its own image only, so one gradient of the sum gives all.
        logits_sum = tf.reduce_sum(_f32(discriminator(images, training=True)))
    gradients = _f32(tape.gradient(logits_sum, images))
    return tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3]) + 1e-12)


def r1_penalty(discriminator, real_images: tf.Tensor, weight: float) -> tf.Tensor:
    """Mescheder et al. 2018: weight/2 * E||dD(x)/dx||² on real images only."""
    return 0.5 * weight * tf.reduce_mean(tf.square(gradient_norms(discriminator, real_images)))


class GanLoss(abc.ABC):
    """Logits in, float32 scalar losses out."""

    # The logit between "fake" and "real": the share of real images D puts on the real
    # side is the overfitting signal adaptive augmentation follows.
    decision_boundary = 0.0

    @abc.abstractmethod
    def generator_loss(self, fake_logits: tf.Tensor) -> tf.Tensor:
        ...

    @abc.abstractmethod
    def discriminator_loss(self, real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
        ...

    def discriminator_penalty(self, discriminator, real_images: tf.Tensor,
                              fake_images: tf.Tensor, rng: tf.random.Generator) -> tf.Tensor:
        """A term added to the discriminator's loss that needs the network; none by default."""
        return tf.constant(0.0)

    def discriminator_score(self, logits: tf.Tensor) -> tf.Tensor:
        """What D(x) means for this loss, for monitoring: the raw critic value by default."""
        return _f32(logits)


class NonSaturatingLoss(GanLoss):
    """Goodfellow et al.'s non-saturating loss: G maximizes log D(G(z)).

    The generator keeps strong gradients when D confidently rejects its samples,
    which is when the minimax form's gradients vanish.
    """

    def generator_loss(self, fake_logits):
        return tf.reduce_mean(tf.nn.softplus(-_f32(fake_logits)))

    def discriminator_loss(self, real_logits, fake_logits):
        return (tf.reduce_mean(tf.nn.softplus(-_f32(real_logits)))
                + tf.reduce_mean(tf.nn.softplus(_f32(fake_logits))))

    def discriminator_score(self, logits):
        return tf.sigmoid(_f32(logits))


class LeastSquaresLoss(GanLoss):
    """LSGAN (Mao et al. 2017): squared distance of logits to the 0/1 targets."""

    decision_boundary = 0.5

    def generator_loss(self, fake_logits):
        return 0.5 * tf.reduce_mean(tf.square(_f32(fake_logits) - 1.0))

    def discriminator_loss(self, real_logits, fake_logits):
        return 0.5 * (tf.reduce_mean(tf.square(_f32(real_logits) - 1.0))
                      + tf.reduce_mean(tf.square(_f32(fake_logits))))


class HingeLoss(GanLoss):
    """Hinge loss (Lim & Ye 2017; SAGAN, BigGAN): D stops pushing logits past ±1."""

    def generator_loss(self, fake_logits):
        return -tf.reduce_mean(_f32(fake_logits))

    def discriminator_loss(self, real_logits, fake_logits):
        return (tf.reduce_mean(tf.nn.relu(1.0 - _f32(real_logits)))
                + tf.reduce_mean(tf.nn.relu(1.0 + _f32(fake_logits))))


class WassersteinGradientPenaltyLoss(GanLoss):
    """WGAN-GP (Gulrajani et al. 2017): a critic kept near 1-Lipschitz by a penalty on
    its gradient norm at random interpolates of real and fake images."""

    def __init__(self, penalty_weight: float = 10.0):
        self.penalty_weight = penalty_weight

    def generator_loss(self, fake_logits):
        return -tf.reduce_mean(_f32(fake_logits))

    def discriminator_loss(self, real_logits, fake_logits):
        return tf.reduce_mean(_f32(fake_logits)) - tf.reduce_mean(_f32(real_logits))

    def discriminator_penalty(self, discriminator, real_images, fake_images, rng):
        mix = tf.cast(rng.uniform([tf.shape(real_images)[0], 1, 1, 1]), real_images.dtype)
        interpolates = real_images + mix * (tf.cast(fake_images, real_images.dtype) - real_images)
        norms = gradient_norms(discriminator, interpolates)
        return self.penalty_weight * tf.reduce_mean(tf.square(norms - 1.0))


LOSSES = {
    "non_saturating": NonSaturatingLoss,
    "least_squares": LeastSquaresLoss,
    "hinge": HingeLoss,
    "wgan_gp": WassersteinGradientPenaltyLoss,
}
assert tuple(LOSSES) == LOSS_NAMES, "keep training_config.LOSS_NAMES in step with LOSSES"


def get_loss(name: str, gradient_penalty_weight: float = 10.0) -> GanLoss:
    if name == "wgan_gp":
        return WassersteinGradientPenaltyLoss(gradient_penalty_weight)
    try:
        return LOSSES[name]()
    except KeyError:
        raise ValueError(f"unknown GAN loss {name!r}; choose one of {sorted(LOSSES)}") from None
