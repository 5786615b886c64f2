"""The GAN as an ordinary Keras model: `fit`, callbacks, TensorBoard and
distribution strategies work on it as on any other model.

One GradientTape per network, and a separate optimizer for each: the
discriminator's and the generator's moment estimates must not mix.
"""
from __future__ import annotations

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import tensorflow as tf

from modules.keras import keras
from modules.losses import GanLoss, r1_penalty


class GAN(keras.Model):
    def __init__(self, generator: keras.Model, discriminator: keras.Model, loss: GanLoss,
                 seed: int = 0, r1_weight: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.gan_loss = loss
        self.latent_dim = int(generator.input_shape[-1])
        self.r1_weight = r1_weight
        # A stateful generator, so the noise stream is part of the model's state
        # (and of its checkpoints) instead of hidden global RNG state.
        self.noise_rng = tf.random.Generator.from_seed(seed)

    def compile(self, generator_optimizer: keras.optimizers.Optimizer,
                discriminator_optimizer: keras.optimizers.Optimizer, **kwargs):
        super().compile(**kwargs)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer

    def call(self, noise, training=False):
        return self.generator(noise, training=training)

    def sample_noise(self, batch_size) -> tf.Tensor:
        return self.noise_rng.normal([batch_size, self.latent_dim])

    def train_step(self, real_images):
        batch_size = tf.shape(real_images)[0]

        with tf.GradientTape() as tape:
            fake_images = self.generator(self.sample_noise(batch_size), training=True)
            real_logits = self.discriminator(real_images, training=True)
            fake_logits = self.discriminator(fake_images, training=True)
            discriminator_loss = (
                self.gan_loss.discriminator_loss(real_logits, fake_logits)
                + self.gan_loss.discriminator_penalty(self.discriminator, real_images,
                                                      fake_images, self.noise_rng))
            if self.r1_weight:
                discriminator_loss += r1_penalty(self.discriminator, real_images, self.r1_weight)
        variables = self.discriminator.trainable_variables
        self.discriminator_optimizer.apply_gradients(
            zip(tape.gradient(discriminator_loss, variables), variables))

        with tf.GradientTape() as tape:
            fake_images = self.generator(self.sample_noise(batch_size), training=True)
            generator_logits = self.discriminator(fake_images, training=True)
            generator_loss = self.gan_loss.generator_loss(generator_logits)
        variables = self.generator.trainable_variables
        self.generator_optimizer.apply_gradients(
            zip(tape.gradient(generator_loss, variables), variables))

        return {
            "generator_loss": generator_loss,
            "discriminator_loss": discriminator_loss,
            "d_real": tf.reduce_mean(self.gan_loss.discriminator_score(real_logits)),
            "d_fake": tf.reduce_mean(self.gan_loss.discriminator_score(fake_logits)),
        }
