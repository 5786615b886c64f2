"""GAN losses behind one interface, so the training step does not care which is used."""
from __future__ import annotations

import abc

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import tensorflow as tf

from modules.training_config import LOSS_NAMES


class GanLoss(abc.ABC):
    """Turns discriminator logits into the two players' losses (scalars, float32)."""

    @abc.abstractmethod
    def generator_loss(self, fake_logits: tf.Tensor) -> tf.Tensor:
        ...

    @abc.abstractmethod
    def discriminator_loss(self, real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
        ...


class NonSaturatingLoss(GanLoss):
    """Goodfellow et al.'s non-saturating loss: G maximizes log D(G(z)).

    The generator keeps strong gradients when D confidently rejects its samples,
    which is when the minimax form's gradients vanish.
    """

    def generator_loss(self, fake_logits):
        return tf.reduce_mean(tf.nn.softplus(-tf.cast(fake_logits, tf.float32)))

    def discriminator_loss(self, real_logits, fake_logits):
        real = tf.nn.softplus(-tf.cast(real_logits, tf.float32))
        fake = tf.nn.softplus(tf.cast(fake_logits, tf.float32))
        return tf.reduce_mean(real) + tf.reduce_mean(fake)


class LeastSquaresLoss(GanLoss):
    """LSGAN (Mao et al. 2017): squared distance of logits to the 0/1 targets."""

    def generator_loss(self, fake_logits):
        return 0.5 * tf.reduce_mean(tf.square(tf.cast(fake_logits, tf.float32) - 1.0))

    def discriminator_loss(self, real_logits, fake_logits):
        real = tf.square(tf.cast(real_logits, tf.float32) - 1.0)
        fake = tf.square(tf.cast(fake_logits, tf.float32))
        return 0.5 * (tf.reduce_mean(real) + tf.reduce_mean(fake))


LOSSES = {
    "non_saturating": NonSaturatingLoss,
    "least_squares": LeastSquaresLoss,
}
assert tuple(LOSSES) == LOSS_NAMES, "keep training_config.LOSS_NAMES in step with LOSSES"


def get_loss(name: str) -> GanLoss:
    try:
        return LOSSES[name]()
    except KeyError:
        raise ValueError(f"unknown GAN loss {name!r}; choose one of {sorted(LOSSES)}") from None
