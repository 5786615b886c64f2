"""The Trainer's `run_fn`: adversarial training, monitoring, generator export."""
from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any, Mapping

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging

from modules import data, features
from modules.export import export_generator
from modules.gan import GAN
from modules.images import save_sample_grid
from modules.keras import keras
from modules.losses import get_loss
from modules.networks import build_discriminator, build_generator
from modules.training_config import TrainerConfig

SAMPLE_GRID_FILE = "sample_grid.png"
SAMPLES_DIR = "samples"
CONFIG_FILE = "trainer_config.json"


def build_gan(config: TrainerConfig) -> GAN:
    keras.utils.set_random_seed(config.seed)
    gan = GAN(build_generator(config.image_spec, config.network_config),
              build_discriminator(config.image_spec, config.network_config),
              get_loss(config.loss, config.gradient_penalty_weight), seed=config.seed,
              r1_weight=config.r1_weight, ema_decay=config.ema_decay,
              augmentations=config.augmentations,
              discriminator_steps=config.discriminator_steps)
    gan.compile(
        generator_optimizer=keras.optimizers.Adam(config.generator_learning_rate,
                                                  beta_1=config.adam_beta_1),
        discriminator_optimizer=keras.optimizers.Adam(config.discriminator_learning_rate,
                                                      beta_1=config.adam_beta_1),
        steps_per_execution=config.steps_per_execution)
    return gan


def fixed_noise(config: TrainerConfig) -> np.ndarray:
    """The same latent vectors for every grid of every run with this seed."""
    return np.random.default_rng(config.seed).standard_normal(
        (config.sample_grid_size, config.latent_dim)).astype(np.float32)


class TrainingMonitor(keras.callbacks.Callback):
    """Progress lines and fixed-seed sample grids, counted in generator steps and images seen."""

    def __init__(self, config: TrainerConfig, total_steps: int, run_dir: str):
        super().__init__()
        self.config = config
        self.total_steps = total_steps
        self.run_dir = run_dir
        self.noise = fixed_noise(config)
        self._last_log = (0, time.monotonic())
        self._last_grid_step = 0

    def _step(self) -> int:
        return int(self.model.generator_optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        step = self._step()
        if step - self._last_log[0] >= self.config.log_every_steps:
            self._log_progress(step, logs or {})
        if step - self._last_grid_step >= self.config.sample_every_steps:
            self._write_grid(os.path.join(self.run_dir, SAMPLES_DIR, f"step_{step:08d}.png"))
            self._last_grid_step = step

    def on_train_end(self, logs=None):
        self._log_progress(self._step(), logs or {})
        self._write_grid(os.path.join(self.run_dir, SAMPLE_GRID_FILE))

    def _log_progress(self, step: int, logs: Mapping[str, Any]) -> None:
        last_step, last_time = self._last_log
        now = time.monotonic()
        rate = (step - last_step) * self.config.batch_size / max(now - last_time, 1e-9)
        values = " ".join(f"{k}={float(v):.4f}" for k, v in sorted(logs.items()))
        logging.info("step %d/%d, %d images seen, %.0f images/s, %s", step, self.total_steps,
                     step * self.config.batch_size, rate, values)
        self._last_log = (step, now)

    def _write_grid(self, path: str) -> None:
        tf.io.gfile.makedirs(os.path.dirname(path))
        save_sample_grid(path, self.model.inference_generator(self.noise, training=False).numpy())


def train(config: TrainerConfig, train_files, tf_transform_output: tft.TFTransformOutput,
          train_steps: int, run_dir: str) -> GAN:
    """Trains a GAN for `train_steps` generator steps; writes logs and grids under `run_dir`."""
    if train_steps < 1:
        raise ValueError(f"train_steps must be at least 1, got {train_steps}")
    tf.io.gfile.makedirs(run_dir)
    with tf.io.gfile.GFile(os.path.join(run_dir, CONFIG_FILE), "w") as out:
        json.dump(dataclasses.asdict(config), out, indent=2)
    dataset = data.transformed_dataset(train_files, tf_transform_output,
                                       config.batch_size * config.discriminator_steps,
                                       shuffle_seed=config.seed, repeat=True)
    dataset = dataset.map(lambda batch: batch[features.PIXELS])
    gan = build_gan(config)
    callbacks = [
        TrainingMonitor(config, train_steps, run_dir),
        keras.callbacks.TensorBoard(log_dir=run_dir, update_freq=config.log_every_steps,
                                    write_graph=False),
    ]
    gan.fit(dataset, epochs=1, steps_per_epoch=train_steps, callbacks=callbacks, verbose=0)
    return gan


def run_fn(fn_args) -> None:
    """TFX Trainer entry point (`fn_args` is a `tfx.v1.components.FnArgs`)."""
    config = TrainerConfig.from_custom_config(fn_args.custom_config)
    logging.info("Trainer config: %s", config)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    gan = train(config, fn_args.train_files, tf_transform_output, fn_args.train_steps,
                fn_args.model_run_dir)
    export_generator(gan.inference_generator, fn_args.serving_model_dir, {
        "latent_dim": config.latent_dim,
        "image_size": config.image_size,
        "channels": config.channels,
        "training_data_fingerprint": data.fingerprint(fn_args.train_files),
        "fid": None,  # filled in by the pusher, from the evaluation that blessed the model
    })
    logging.info("Exported the generator to %s", fn_args.serving_model_dir)
