"""Checkpoints that let a preempted Trainer continue where it stopped.

A checkpoint holds both networks, the EMA generator, both optimizers' state
(moments and step counter), the images seen and the noise generator's state, so
the re-run draws the same noise it would have drawn; the Trainer adds the data
stream's state (`modules.data.StreamState`), so with the images seen it reads
the same batches too. The directory is derived
from the training settings and the data, not from the TFX execution (every
execution gets a new `model_run_dir`), so a re-run of the same training finds it.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Mapping

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import tensorflow as tf
from absl import logging

from modules.training.gan import GAN

KEEP_CHECKPOINTS = 3


def checkpoint_directory(root: str, custom_config: Mapping[str, Any], train_steps: int,
                         data_fingerprint: str) -> str:
    """`<root>/<hash of the settings, step budget and data>`: stable across re-executions."""
    identity = json.dumps({"config": dict(custom_config), "train_steps": train_steps,
                           "data": data_fingerprint}, sort_keys=True, default=str)
    return os.path.join(root, hashlib.sha256(identity.encode()).hexdigest()[:16])


def all_finite(variables) -> bool:
    return all(bool(tf.reduce_all(tf.math.is_finite(v))) for v in variables
               if v.dtype.is_floating)


class TrainingCheckpoint:
    def __init__(self, gan: GAN, directory: str, keep: int = KEEP_CHECKPOINTS,
                 extra: Mapping[str, tf.Module] | None = None,
                 write_directory: str | None = None):
        """`extra`: more state to save and restore with the GAN (e.g. the best snapshot).
        `write_directory`: where saves go when not `directory` (a worker other than the
        chief; see `modules.training.distribution.worker_directory`)."""
        # Optimizer slots are created lazily; build them so a restore fills them in place.
        gan.generator_optimizer.build(gan.generator.trainable_variables)
        gan.discriminator_optimizer.build(gan.discriminator.trainable_variables)
        self.gan = gan
        self.directory = directory
        state = dict(generator=gan.generator, discriminator=gan.discriminator,
                     generator_optimizer=gan.generator_optimizer,
                     discriminator_optimizer=gan.discriminator_optimizer,
                     noise_rng=gan.noise_rng, images_seen=gan.images_seen,
                     augment_probability=gan.augment_probability)
        if gan.ema_generator is not None:
            state["ema_generator"] = gan.ema_generator
        state.update(extra or {})
        self.checkpoint = tf.train.Checkpoint(**state)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, write_directory or directory, max_to_keep=keep,
            step_counter=gan.generator_optimizer.iterations)
        self.saved_step: int | None = None

    def restore_latest(self) -> int:
        """Restores the newest checkpoint if there is one (this worker's own saves first,
        then the chief's); returns the step it holds (or 0)."""
        latest = self.manager.latest_checkpoint or tf.train.latest_checkpoint(self.directory)
        if latest:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
            logging.info("Restored %s", latest)
        self.saved_step = self.gan.step if latest else None
        return self.gan.step

    def save(self) -> None:
        """Saves unless the state is not finite: a checkpoint must always be safe to resume."""
        if not all_finite(self.gan.variables):
            raise NonFiniteTrainingError(
                f"weights are not finite at step {self.gan.step}; not checkpointed")
        if self.gan.step != self.saved_step:
            self.manager.save(checkpoint_number=self.gan.step)
            self.saved_step = self.gan.step


class NonFiniteTrainingError(RuntimeError):
    """Training diverged (a loss or weight is NaN or infinite)."""
