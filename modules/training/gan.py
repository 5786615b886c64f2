"""The GAN as an ordinary Keras model: `fit`, callbacks, TensorBoard and
distribution strategies work on it as on any other model.

One GradientTape per network, and a separate optimizer for each: the
discriminator's and the generator's moment estimates must not mix.
"""
from __future__ import annotations

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import tensorflow as tf

from modules.keras import keras
from modules.training.augment import diff_augment
from modules.training.config import EMA_RAMPUP
from modules.training.losses import GanLoss, r1_penalty

# Adaptive augmentation (StyleGAN2-ADA, training/training_loop.py): after every
# discriminator batch the augmentation probability moves by batch / ADA_SPEED_IMAGES, up
# while D puts more of the real images on its "real" side than the target allows (it is
# memorizing them), down otherwise. StyleGAN2-ADA crosses 0..1 in 500k images of 25M-image
# runs; ours see a few hundred thousand.
ADA_SPEED_IMAGES = 100_000


def _differentiated_loss(optimizer, loss):
    """What the tape differentiates (call inside the tape): the loss averaged over replicas
    (each replica's loss is a mean over its share of the batch; gradients are summed),
    and loss-scaled under float16 so small gradients do not underflow."""
    loss = loss / tf.distribute.get_strategy().num_replicas_in_sync
    if isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer):
        return optimizer.get_scaled_loss(loss)
    return loss


def _gradients(tape: tf.GradientTape, optimizer, differentiated_loss, variables):
    gradients = tape.gradient(differentiated_loss, variables)
    if isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer):
        return optimizer.get_unscaled_gradients(gradients)
    return gradients


class GAN(keras.Model):
    def __init__(self, generator: keras.Model, discriminator: keras.Model, loss: GanLoss,
                 seed: int = 0, r1_weight: float = 0.0, r1_interval: int = 1,
                 ema_half_life_images: int = 0,
                 augmentations: tuple[str, ...] = (), augment_target: float = 0.0,
                 discriminator_steps: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.gan_loss = loss
        self.latent_dim = int(generator.input_shape[-1])
        self.r1_weight = r1_weight
        self.r1_interval = r1_interval
        self.augmentations = tuple(augmentations)
        # 0: every augmentation reaches every image; else the probability adapts to D.
        self.augment_target = augment_target
        self.augment_probability = tf.Variable(
            0.0 if self.adaptive_augmentation else 1.0, trainable=False,
            name="augment_probability", synchronization=tf.VariableSynchronization.ON_WRITE,
            aggregation=tf.VariableAggregation.MEAN)
        self.discriminator_steps = discriminator_steps
        self.ema_half_life_images = ema_half_life_images
        # The averaged generator: what gets sampled, evaluated and exported when on.
        self.ema_generator = None
        if ema_half_life_images:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
        # A stateful generator, so the noise stream is part of the model's state
        # (and of its checkpoints) instead of hidden global RNG state.
        self.noise_rng = tf.random.Generator.from_seed(seed)
        # Real images the discriminator has consumed: progress in images, as StyleGAN counts it.
        self.images_seen = tf.Variable(0, dtype=tf.int64, trainable=False, name="images_seen",
                                       synchronization=tf.VariableSynchronization.ON_WRITE,
                                       aggregation=tf.VariableAggregation.SUM)

    def compile(self, generator_optimizer: keras.optimizers.Optimizer,
                discriminator_optimizer: keras.optimizers.Optimizer, **kwargs):
        super().compile(**kwargs)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer

    @property
    def inference_generator(self) -> keras.Model:
        """The generator to sample from: the EMA one when EMA is on."""
        return self.ema_generator or self.generator

    @property
    def step(self) -> int:
        """Generator updates so far (the optimizer's counter, so it is checkpointed with it)."""
        return int(self.generator_optimizer.iterations.numpy())

    def call(self, noise, training=False):
        return self.generator(noise, training=training)

    def sample_noise(self, batch_size) -> tf.Tensor:
        return self.noise_rng.normal([batch_size, self.latent_dim])

    @property
    def adaptive_augmentation(self) -> bool:
        return bool(self.augmentations) and self.augment_target > 0

    def _discriminate(self, images):
        probability = self.augment_probability if self.adaptive_augmentation else None
        return self.discriminator(
            diff_augment(images, self.augmentations, self.noise_rng, probability),
            training=True)

    def _adapt_augmentation(self, real_logits) -> dict:
        """StyleGAN2-ADA's overfitting signal (the mean sign of D's real logits) and the
        probability's step towards the target."""
        signs = tf.reduce_mean(tf.sign(tf.cast(real_logits, tf.float32)
                                       - self.gan_loss.decision_boundary))
        step = tf.cast(tf.shape(real_logits)[0], tf.float32) / ADA_SPEED_IMAGES
        self.augment_probability.assign(tf.clip_by_value(
            self.augment_probability + tf.sign(signs - self.augment_target) * step, 0.0, 1.0))
        return {"real_signs": signs, "augment_probability": self.augment_probability}

    def _adversarial_step(self, real_images, update_generator: bool):
        """One discriminator update and, when asked, a generator update from the same
        forward pass (as the TensorFlow DCGAN tutorial does: one tape per network, no
        second generator pass; both gradients see the discriminator before its update)."""
        with tf.GradientTape() as discriminator_tape, tf.GradientTape() as generator_tape:
            fake_images = self.generator(self.sample_noise(tf.shape(real_images)[0]),
                                         training=True)
            real_logits = self._discriminate(real_images)
            fake_logits = self._discriminate(fake_images)
            discriminator_loss = (
                self.gan_loss.discriminator_loss(real_logits, fake_logits)
                + self.gan_loss.discriminator_penalty(self.discriminator, real_images,
                                                      fake_images, self.noise_rng))
            if self.r1_weight:
                discriminator_loss += self._lazy_r1(real_images)
            generator_loss = self.gan_loss.generator_loss(fake_logits)
            differentiated = (_differentiated_loss(self.discriminator_optimizer,
                                                   discriminator_loss),
                              _differentiated_loss(self.generator_optimizer, generator_loss))
        generator_norm = tf.constant(0.0)
        if update_generator:  # gradients first: applying D's update changes D's variables
            generator_variables = self.generator.trainable_variables
            generator_gradients = _gradients(generator_tape, self.generator_optimizer,
                                             differentiated[1], generator_variables)
            generator_norm = tf.linalg.global_norm(generator_gradients)
        variables = self.discriminator.trainable_variables
        gradients = _gradients(discriminator_tape, self.discriminator_optimizer,
                               differentiated[0], variables)
        self.discriminator_optimizer.apply_gradients(zip(gradients, variables))
        if update_generator:
            self.generator_optimizer.apply_gradients(zip(generator_gradients,
                                                         generator_variables))
        logs = {
            "generator_loss": generator_loss,
            "discriminator_loss": discriminator_loss,
            "d_real": tf.reduce_mean(self.gan_loss.discriminator_score(real_logits)),
            "d_fake": tf.reduce_mean(self.gan_loss.discriminator_score(fake_logits)),
            "generator_grad_norm": generator_norm,
            "discriminator_grad_norm": tf.linalg.global_norm(gradients),
        }
        if self.adaptive_augmentation:
            logs.update(self._adapt_augmentation(real_logits))
        return logs

    def _lazy_r1(self, real_images) -> tf.Tensor:
        """R1 on every `r1_interval`-th discriminator update (counted by D's optimizer, so
        a resume keeps the rhythm), weighted by the interval: StyleGAN2's lazy
        regularization (StyleGAN2-ADA's training/training_loop.py, `D_reg_interval`), at a
        fraction of R1's double-backpropagation cost."""
        due = tf.equal(self.discriminator_optimizer.iterations % self.r1_interval, 0)
        return tf.cond(due, lambda: r1_penalty(self.discriminator, real_images,
                                               self.r1_weight * self.r1_interval),
                       lambda: tf.constant(0.0))

    def _assign_ema(self, step_images):
        """Moves the average towards the generator by a step of `step_images` images:
        a weight's share halves every `ema_half_life_images` images."""
        half_life = tf.minimum(float(self.ema_half_life_images),
                               EMA_RAMPUP * tf.cast(self.images_seen, tf.float32))
        decay = 0.5 ** (tf.cast(step_images, tf.float32) / tf.maximum(half_life, 1e-8))
        for average, weight in zip(self.ema_generator.trainable_weights,
                                   self.generator.trainable_weights):
            average.assign(decay * average + (1.0 - decay) * weight)
        # BatchNorm statistics are copied: averaging them would not match the averaged weights.
        for average, weight in zip(self.ema_generator.non_trainable_weights,
                                   self.generator.non_trainable_weights):
            average.assign(weight)

    def train_step(self, real_images):
        """`discriminator_steps` discriminator updates, the last one together with the
        generator's; the input batch holds `discriminator_steps` discriminator batches."""
        batch_size = tf.shape(real_images)[0] // self.discriminator_steps
        for index in range(self.discriminator_steps):
            logs = self._adversarial_step(
                real_images[index * batch_size:(index + 1) * batch_size],
                update_generator=index == self.discriminator_steps - 1)
        step_images = tf.cast(tf.shape(real_images)[0], tf.int64)
        self.images_seen.assign_add(step_images)
        if self.ema_generator is not None:
            # Mirrored variables are updated from the cross-replica context; the step's
            # images are every replica's.
            tf.distribute.get_replica_context().merge_call(
                lambda strategy, images: self._assign_ema(
                    strategy.reduce(tf.distribute.ReduceOp.SUM, images, axis=None)),
                args=(step_images,))
        # Keras sums what each replica returns (so a NaN on any replica reaches every
        # worker's callbacks); dividing here makes that sum the mean over replicas.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return {name: value / replicas for name, value in logs.items()}
