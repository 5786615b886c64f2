"""The GAN's train step, the trainer's settings and its speed options (mixed precision, XLA),
on tiny synthetic data."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from modules.keras import keras
from modules.training.config import TrainerConfig
from modules.training.gan import ADA_SPEED_IMAGES
from modules.training.losses import r1_penalty
from modules.training.trainer import build_gan, fixed_noise

# Every setting given, so nothing is left to the training plan.
CONFIG = TrainerConfig(latent_dim=8, generator_filters=8, discriminator_filters=8, batch_size=16,
                       steps_per_execution=1, train_steps=10, generator_learning_rate=2e-4,
                       discriminator_learning_rate=2e-4, ema_half_life_images=0,
                       diff_augment="off", precision="float32", r1_weight=0.0)


def test_each_network_is_updated_by_its_own_optimizer():
    gan = build_gan(CONFIG)
    real = np.random.default_rng(0).uniform(-1, 1, (16, 8, 8, 1)).astype(np.float32)
    generator_before = [w.numpy().copy() for w in gan.generator.trainable_variables]
    discriminator_before = [w.numpy().copy() for w in gan.discriminator.trainable_variables]

    history = gan.fit(real, batch_size=16, epochs=3, verbose=0)

    assert gan.generator_optimizer is not gan.discriminator_optimizer
    assert int(gan.generator_optimizer.iterations) == 3
    assert int(gan.discriminator_optimizer.iterations) == 3
    assert all(not np.allclose(a, b.numpy()) for a, b in
               zip(generator_before, gan.generator.trainable_variables))
    assert all(not np.allclose(a, b.numpy()) for a, b in
               zip(discriminator_before, gan.discriminator.trainable_variables))
    for name in ("generator_loss", "discriminator_loss", "d_real", "d_fake"):
        assert np.all(np.isfinite(history.history[name]))


def test_fixed_noise_is_fixed_by_the_seed():
    np.testing.assert_array_equal(fixed_noise(CONFIG), fixed_noise(CONFIG))
    other = dataclasses.replace(CONFIG, seed=1)
    assert not np.array_equal(fixed_noise(CONFIG), fixed_noise(other))


@pytest.mark.parametrize("field,value", [("batch_size", 0), ("loss", "nope"), ("image_size", 48),
                                         ("generator_learning_rate", 0.0)])
def test_invalid_settings_fail_up_front(field, value):
    with pytest.raises(ValueError, match=field.split("_")[0] if field != "loss" else "loss"):
        dataclasses.replace(CONFIG, **{field: value})


def test_custom_config_ignores_pipeline_only_keys():
    config = TrainerConfig.from_custom_config({"batch_size": 32, "code_version": "abc"})
    assert config.batch_size == 32


@pytest.mark.parametrize("loss,r1_weight", [("hinge", 0.0), ("wgan_gp", 0.0),
                                            ("non_saturating", 1.0)])
def test_every_loss_and_the_r1_penalty_train(loss, r1_weight):
    gan = build_gan(dataclasses.replace(CONFIG, loss=loss, r1_weight=r1_weight))
    real = np.random.default_rng(0).uniform(-1, 1, (32, 8, 8, 1)).astype(np.float32)
    history = gan.fit(real, batch_size=16, epochs=2, verbose=0)
    assert int(gan.generator_optimizer.iterations) == 4
    for name in ("generator_loss", "discriminator_loss"):
        assert np.all(np.isfinite(history.history[name]))


def test_r1_is_lazy_applied_on_every_interval_th_discriminator_update_times_the_interval():
    gan = build_gan(dataclasses.replace(CONFIG, r1_weight=2.0, r1_interval=4))
    real = tf.constant(np.random.default_rng(0).uniform(-1, 1, (16, 8, 8, 1)), tf.float32)
    full = float(r1_penalty(gan.discriminator, real, 2.0))
    assert full > 0
    penalties = []
    for iteration in range(6):
        gan.discriminator_optimizer.iterations.assign(iteration)
        penalties.append(float(gan._lazy_r1(real)))
    assert penalties == pytest.approx([4 * full, 0, 0, 0, 4 * full, 0], rel=1e-5)


@pytest.mark.parametrize("images_seen_before,decay", [
    (1_000_000, 0.5 ** (16 / 32)),     # a step of 16 images at a half-life of 32 images
    (0, 0.5 ** (16 / (0.05 * 16)))])   # ramp-up: at most 5% of the 16 images seen so far
def test_ema_generator_averages_weights_by_half_life_and_copies_batchnorm_statistics(
        images_seen_before, decay):
    gan = build_gan(dataclasses.replace(CONFIG, ema_half_life_images=32))
    gan.images_seen.assign(images_seen_before)
    start = [w.numpy().copy() for w in gan.generator.trainable_weights]
    real = np.random.default_rng(0).uniform(-1, 1, (16, 8, 8, 1)).astype(np.float32)

    gan.fit(real, batch_size=16, epochs=1, verbose=0)

    for initial, weight, average in zip(start, gan.generator.trainable_weights,
                                        gan.ema_generator.trainable_weights):
        np.testing.assert_allclose(average.numpy(), decay * initial + (1 - decay) * weight.numpy(),
                                   rtol=1e-5, atol=1e-6)
    for weight, average in zip(gan.generator.non_trainable_weights,
                               gan.ema_generator.non_trainable_weights):
        np.testing.assert_array_equal(average.numpy(), weight.numpy())
    assert gan.inference_generator is gan.ema_generator
    assert build_gan(CONFIG).inference_generator.name == "generator"


def test_discriminator_steps_and_spectral_normalization_and_diff_augment():
    config = dataclasses.replace(CONFIG, discriminator_steps=2, spectral_normalization=True,
                                 diff_augment="color,translation,cutout")
    gan = build_gan(config)
    assert any("spectral_normalization" in layer.name for layer in gan.discriminator.layers)
    real = np.random.default_rng(0).uniform(-1, 1, (64, 8, 8, 1)).astype(np.float32)

    history = gan.fit(real, batch_size=32, epochs=1, verbose=0)  # 2 batches of 2 x 16

    assert int(gan.generator_optimizer.iterations) == 2
    assert int(gan.discriminator_optimizer.iterations) == 4
    assert np.all(np.isfinite(history.history["discriminator_loss"]))


@pytest.mark.parametrize("loss,real_side", [("non_saturating", 0.1), ("least_squares", 0.6)])
def test_adaptive_augmentation_rises_while_d_calls_the_real_images_real_and_falls_after(
        loss, real_side):
    gan = build_gan(dataclasses.replace(CONFIG, diff_augment="translation", loss=loss,
                                        augment_target=0.6))
    assert gan.adaptive_augmentation and float(gan.augment_probability) == 0.0
    step = 16 / ADA_SPEED_IMAGES
    # All 16 on the real side: the mean sign 1 is above the target.
    logs = gan._adapt_augmentation(tf.fill([16, 1], real_side))
    assert float(logs["real_signs"]) == 1.0
    assert float(gan.augment_probability) == pytest.approx(step)
    # Half on each side: 0 is below the target; the probability never goes below 0.
    for _ in range(2):
        gan._adapt_augmentation(tf.constant([[real_side]] * 8 + [[-1.0]] * 8))
    assert float(gan.augment_probability) == 0.0
    always = build_gan(dataclasses.replace(CONFIG, diff_augment="translation"))
    assert not always.adaptive_augmentation and float(always.augment_probability) == 1.0


def test_adaptive_augmentation_is_logged_as_it_trains():
    gan = build_gan(dataclasses.replace(CONFIG, diff_augment="translation,cutout",
                                        augment_target=0.6))
    real = np.random.default_rng(0).uniform(-1, 1, (64, 8, 8, 1)).astype(np.float32)
    history = gan.fit(real, batch_size=16, epochs=1, verbose=0)
    probabilities = history.history["augment_probability"]
    assert 0 <= probabilities[-1] <= 4 * 16 / ADA_SPEED_IMAGES
    assert probabilities[-1] == pytest.approx(float(gan.augment_probability))
    assert -1 <= history.history["real_signs"][-1] <= 1


def test_networks_are_built_only_from_a_planned_config():
    with pytest.raises(ValueError, match="batch_size, generator_learning_rate.*not chosen"):
        build_gan(dataclasses.replace(CONFIG, batch_size=None, generator_learning_rate=None))


@pytest.mark.parametrize("field,value", [("diff_augment", "translation,zoom"), ("ema_half_life_images", -1),
                                         ("discriminator_steps", 0), ("augment_target", 1.0),
                                         ("augment_target", -0.1)])
def test_invalid_stability_settings_fail_up_front(field, value):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(CONFIG, **{field: value})


@pytest.mark.parametrize("precision,compute_dtype", [("mixed_bfloat16", "bfloat16"),
                                                     ("mixed_float16", "float16")])
def test_mixed_precision_computes_in_half_and_keeps_weights_logits_and_losses_float32(
        precision, compute_dtype):
    gan = build_gan(dataclasses.replace(CONFIG, precision=precision))
    real = np.random.default_rng(0).uniform(-1, 1, (32, 8, 8, 1)).astype(np.float32)
    # The hidden layers really compute in half precision ...
    for network in (gan.generator, gan.discriminator):
        assert network.layers[1].compute_dtype == compute_dtype, network.name
    # ... while weights, generated images, logits and losses are float32.
    assert {v.dtype for v in gan.generator.weights + gan.discriminator.weights} == {tf.float32}
    assert gan.generator(fixed_noise(CONFIG)[:4]).dtype == tf.float32
    assert gan.discriminator(real[:4]).dtype == tf.float32
    logs = gan.train_step(tf.constant(real[:16]))
    assert {name: value.dtype for name, value in logs.items()} == {
        name: tf.float32 for name in logs}
    # Loss scaling only where gradients can underflow: float16, not bfloat16.
    for optimizer in (gan.generator_optimizer, gan.discriminator_optimizer):
        assert isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer) == (
            compute_dtype == "float16")

    history = gan.fit(real, batch_size=16, epochs=2, verbose=0)

    assert int(gan.generator_optimizer.iterations) == 5  # the train_step above, then 4
    for name in ("generator_loss", "discriminator_loss"):
        assert np.all(np.isfinite(history.history[name]))
    assert all(np.isfinite(v.numpy()).all() for v in gan.generator.weights)


def test_xla_compiled_training_gives_finite_losses():
    gan = build_gan(dataclasses.replace(CONFIG, jit_compile=True))
    real = np.random.default_rng(0).uniform(-1, 1, (32, 8, 8, 1)).astype(np.float32)
    history = gan.fit(real, batch_size=16, epochs=2, verbose=0)
    assert gan.jit_compile and int(gan.generator_optimizer.iterations) == 4
    for name in ("generator_loss", "discriminator_loss", "d_real", "d_fake"):
        assert np.all(np.isfinite(history.history[name]))
