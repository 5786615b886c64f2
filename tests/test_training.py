"""The GAN's train step and the trainer's settings, on tiny synthetic data."""
import dataclasses

import numpy as np
import pytest

from modules.trainer import build_gan, fixed_noise
from modules.training_config import TrainerConfig

CONFIG = TrainerConfig(latent_dim=8, generator_filters=8, discriminator_filters=8, batch_size=16,
                       steps_per_execution=1)


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
