"""The Trainer's `run_fn`: adversarial training, checkpoints, monitoring, generator export."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from typing import Any, Mapping

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
import tqdm

from modules import data
from modules.export import export_generator
from modules.images import save_sample_grid
from modules.keras import keras
from modules.progress import progress_bar
from modules.quality import metrics
from modules.quality.fid_cache import FidCache
from modules.quality.trained_extractors import TRAINED_EXTRACTORS, fid_dim, training_images
from modules.training.checkpointing import (NonFiniteTrainingError, TrainingCheckpoint,
                                            all_finite, checkpoint_directory)
from modules.training.config import (CHECKPOINT_ROOT_KEY, CODE_VERSION_KEY, FID_CACHE_KEY,
                                     LOCATION_KEYS, TRAINING_RESULT_FILE, TrainerConfig)
from modules.training.distribution import distribution_strategy, worker_directory
from modules.training.gan import GAN
from modules.training.hardware import Hardware, cpu_flags
from modules.training.losses import get_loss
from modules.training.networks import build_discriminator, build_generator
from modules.training.plan import TrainingPlan, plan_training
from modules.training.snapshot_selection import BestSnapshot, CheapFid, SnapshotSelector

SAMPLE_GRID_FILE = "sample_grid.png"
SAMPLES_DIR = "samples"
CONFIG_FILE = "trainer_config.json"
CHECKPOINTS_DIR = "checkpoints"


def build_gan(config: TrainerConfig,
              strategy: tf.distribute.Strategy | None = None) -> GAN:
    """The compiled GAN, its variables placed by `strategy` (default: one device), from a
    config with every setting filled in (`modules.training.plan.plan_training`)."""
    if config.chosen_from_data:
        raise ValueError(f"{', '.join(config.chosen_from_data)} not chosen: plan the config "
                         "first (modules.training.plan.plan_training)")
    keras.utils.set_random_seed(config.seed)
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(config.precision)
    try:
        with (strategy or tf.distribute.get_strategy()).scope():
            gan = GAN(build_generator(config.image_spec, config.network_config),
                      build_discriminator(config.image_spec, config.network_config),
                      get_loss(config.loss, config.gradient_penalty_weight), seed=config.seed,
                      r1_weight=config.r1_weight, r1_interval=config.r1_interval,
                      ema_half_life_images=config.ema_half_life_images,
                      augmentations=config.augmentations,
                      augment_target=config.augment_target,
                      discriminator_steps=config.discriminator_steps)
            gan.compile(generator_optimizer=_optimizer(config, config.generator_learning_rate),
                        discriminator_optimizer=_optimizer(config,
                                                           config.discriminator_learning_rate),
                        steps_per_execution=config.steps_per_execution,
                        jit_compile=config.jit_compile)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    return gan


def this_machine() -> Hardware:
    return Hardware(len(tf.config.list_physical_devices("GPU")), cpu_flags())


def _optimizer(config: TrainerConfig, learning_rate: float) -> keras.optimizers.Optimizer:
    optimizer = keras.optimizers.Adam(learning_rate, beta_1=config.adam_beta_1)
    # float16 gradients underflow without loss scaling; bfloat16 has float32's range.
    if config.precision == "mixed_float16":
        return keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer


def fixed_noise(config: TrainerConfig) -> np.ndarray:
    """The same latent vectors for every grid of every run with this seed."""
    return np.random.default_rng(config.seed).standard_normal(
        (config.sample_grid_size, config.latent_dim)).astype(np.float32)


class TrainingMonitor(keras.callbacks.Callback):
    """Progress lines, TensorBoard scalars and fixed-seed sample grids, counted in
    generator steps (which survive a resume) and images seen."""

    def __init__(self, config: TrainerConfig, total_steps: int, run_dir: str):
        super().__init__()
        self.config = config
        self.total_steps = total_steps
        self.run_dir = run_dir
        self.noise = fixed_noise(config)
        self.writer = tf.summary.create_file_writer(os.path.join(run_dir, "train"))
        self._last_log: tuple[int, float] | None = None
        self._last_grid_step = 0

    def on_train_begin(self, logs=None):
        self._last_log = (self.model.step, time.monotonic())
        self._last_grid_step = self.model.step

    def on_train_batch_end(self, batch, logs=None):
        step = self.model.step
        if step - self._last_log[0] >= self.config.log_every_steps:
            self._log_progress(step, logs or {})
        if step - self._last_grid_step >= self.config.sample_every_steps:
            self._write_grid(os.path.join(self.run_dir, SAMPLES_DIR, f"step_{step:08d}.png"))
            self._last_grid_step = step

    def on_train_end(self, logs=None):
        if self.model.step > self._last_log[0]:
            self._log_progress(self.model.step, logs or {})
        if all_finite(self.model.inference_generator.variables):  # else training diverged
            self._write_grid(os.path.join(self.run_dir, SAMPLE_GRID_FILE))

    def _log_progress(self, step: int, logs: Mapping[str, Any]) -> None:
        last_step, last_time = self._last_log
        now = time.monotonic()
        images_seen = int(self.model.images_seen.numpy())
        rate = ((step - last_step) * self.config.batch_size * self.config.discriminator_steps
                / max(now - last_time, 1e-9))
        scalars = {name: float(value) for name, value in sorted(logs.items())}
        logging.info("step %d/%d, %d images seen, %.0f images/s, %s", step, self.total_steps,
                     images_seen, rate, " ".join(f"{k}={v:.4f}" for k, v in scalars.items()))
        with self.writer.as_default(step=step):
            for name, value in scalars.items():
                tf.summary.scalar(name, value)
            tf.summary.scalar("images_per_second", rate)
            tf.summary.scalar("images_seen", images_seen)
        self._last_log = (step, now)

    def _write_grid(self, path: str) -> None:
        tf.io.gfile.makedirs(os.path.dirname(path))
        save_sample_grid(path, self.model.inference_generator(self.noise, training=False).numpy())


class ProgressBar(keras.callbacks.Callback):
    """A progress bar in images seen of the run's budget (images/s, ETA, last losses).
    Lives across the `fit` calls of one training run (a rollback moves it back)."""

    def __init__(self, total_images: int):
        super().__init__()
        self.total_images = total_images
        self.last_losses: dict[str, float] = {}
        self._bar: tqdm.tqdm | None = None

    def on_train_begin(self, logs=None):
        if self._bar is None:
            self._bar = progress_bar("Training", self.total_images,
                                     int(self.model.images_seen.numpy()))

    def on_train_batch_end(self, batch, logs=None):
        self.last_losses = {name: float(value) for name, value in sorted((logs or {}).items())
                            if name.endswith("_loss")}
        self._bar.set_postfix({name: f"{value:.3f}" for name, value in self.last_losses.items()},
                              refresh=False)
        self._bar.update(int(self.model.images_seen.numpy()) - self._bar.n)

    def close(self):
        if self._bar is not None:
            self._bar.close()


class CheckpointAndGuard(keras.callbacks.Callback):
    """Checkpoints every N steps and at the end, and stops training when a loss or weight
    stops being finite (so no non-finite state is ever checkpointed or exported)."""

    def __init__(self, checkpoint: TrainingCheckpoint, every_steps: int):
        super().__init__()
        self.checkpoint = checkpoint
        self.every_steps = every_steps
        self.divergence: str | None = None

    def on_train_begin(self, logs=None):
        self.divergence = None

    def on_train_batch_end(self, batch, logs=None):
        bad = sorted(name for name, value in (logs or {}).items()
                     if not math.isfinite(float(value)))
        if bad:
            self._diverged(f"{', '.join(bad)} not finite")
        elif self.model.step - (self.checkpoint.saved_step or 0) >= self.every_steps:
            self._save()

    def on_train_end(self, logs=None):
        if self.divergence is None:
            self._save()

    def _save(self):
        try:
            self.checkpoint.save()  # refuses non-finite weights
        except NonFiniteTrainingError:
            self._diverged("weights not finite")

    def _diverged(self, what: str):
        self.divergence = f"training diverged at step {self.model.step}: {what}"
        self.model.stop_training = True


@dataclasses.dataclass
class TrainingResult:
    gan: GAN
    plan: TrainingPlan   # the settings training ran with
    start_step: int      # the step training (re)started from: > 0 after a resume
    rollbacks: int
    best: BestSnapshot | None

    @property
    def export_generator(self):
        """The best snapshot when selection ran, else the inference (EMA or raw) generator."""
        return self.best.generator if self.best and self.best.exists \
            else self.gan.inference_generator


def train(config: TrainerConfig, images: data.ImageStream, train_steps: int | None,
          run_dir: str, checkpoint_dir: str, cheap_fid: CheapFid | None = None
          ) -> TrainingResult:
    """Trains to `train_steps` generator steps (None: the plan's), resuming from
    `checkpoint_dir` when it holds a checkpoint; writes logs, grids and the training plan
    (`modules.training.plan`) under `run_dir`. With `cheap_fid` (and
    `config.fid_every_steps`), keeps the best-scoring snapshot for export."""
    if train_steps is not None and train_steps < 1:
        raise ValueError(f"train_steps must be at least 1, got {train_steps}")
    # Before any TensorFlow op: a multi-worker strategy must configure collectives first.
    strategy = distribution_strategy()
    num_images = images.count_records()
    if not num_images:
        raise ValueError("there are no training images")
    plan = plan_training(dataclasses.replace(config, train_steps=train_steps or
                                             config.train_steps), num_images, this_machine())
    # On standard output, where the progress bar is (the terminal of a local run).
    print("\n".join(plan.lines()), flush=True)
    config, train_steps = plan.config, plan.config.train_steps
    gan = build_gan(config, strategy)
    with worker_directory(run_dir, strategy) as run_dir, \
            worker_directory(checkpoint_dir, strategy) as checkpoint_write_dir:
        tf.io.gfile.makedirs(run_dir)
        with tf.io.gfile.GFile(os.path.join(run_dir, CONFIG_FILE), "w") as out:
            json.dump({"config": dataclasses.asdict(config), "plan": plan.to_json()}, out,
                      indent=2)
        best = BestSnapshot(gan.inference_generator) if cheap_fid and config.fid_every_steps \
            else None
        stream = data.StreamState()
        checkpoint = TrainingCheckpoint(
            gan, checkpoint_dir, extra={"stream": stream, **({"best_snapshot": best} if best
                                                              else {})},
            write_directory=checkpoint_write_dir)
        start_step = checkpoint.restore_latest()
        if not stream.records_per_epoch:
            stream.records_per_epoch.assign(num_images)
        if checkpoint.saved_step is None:
            checkpoint.save()  # step 0: something to roll back to
        logging.info("Training from step %d of %d (checkpoints in %s)", start_step, train_steps,
                     checkpoint_dir)
        guard = CheckpointAndGuard(checkpoint, config.checkpoint_every_steps)
        monitor = TrainingMonitor(config, train_steps, run_dir)
        progress = ProgressBar(train_steps * config.batch_size * config.discriminator_steps)
        # The selector runs before the guard, so the end-of-training checkpoint holds its
        # verdict.
        callbacks = [progress, monitor] + ([SnapshotSelector(
            cheap_fid, best, config.fid_every_steps, monitor.writer)] if best else []) + [guard]
        try:
            _fit(gan, images, config, stream, checkpoint, guard, callbacks, train_steps)
        finally:
            progress.close()
        with tf.io.gfile.GFile(os.path.join(run_dir, TRAINING_RESULT_FILE), "w") as out:
            json.dump({"step": gan.step, "images_seen": int(gan.images_seen.numpy()),
                       "losses": progress.last_losses}, out)
    if best and best.exists:
        logging.info("Exporting the best snapshot: cheap FID %.4f at step %d",
                     float(best.fid.numpy()), int(best.step.numpy()))
    return TrainingResult(gan, plan, start_step, int(stream.rollbacks.numpy()), best)


def _fit(gan: GAN, images: data.ImageStream, config: TrainerConfig, stream: data.StreamState,
         checkpoint: TrainingCheckpoint, guard: CheckpointAndGuard, callbacks: list,
         train_steps: int) -> None:
    """Fits to `train_steps`, rolling back to the last checkpoint on divergence when allowed."""
    while gan.step < train_steps:
        dataset = images.batches(
            data.stream_seed(config.seed, int(stream.rollbacks.numpy())),
            int(gan.images_seen.numpy()), int(stream.records_per_epoch.numpy()),
            config.batch_size * config.discriminator_steps)
        gan.fit(dataset, epochs=1, steps_per_epoch=train_steps - gan.step,
                callbacks=callbacks, verbose=0)
        if guard.divergence is None:
            continue
        rollbacks = int(stream.rollbacks.numpy())
        if config.on_non_finite == "stop" or rollbacks >= config.max_rollbacks:
            raise NonFiniteTrainingError(
                f"{guard.divergence} (after {rollbacks} rollbacks); nothing is exported. "
                "Lower the learning rates (--trainer-option generator_learning_rate=..., "
                "discriminator_learning_rate=...), or try spectral_normalization, r1_weight "
                "or another loss")
        step = checkpoint.restore_latest()  # restores the rollback count too
        stream.rollbacks.assign(rollbacks + 1)
        logging.warning("%s; rolling back to step %d (rollback %d of %d)", guard.divergence,
                        step, rollbacks + 1, config.max_rollbacks)


class UnevaluableRunError(ValueError):
    """The FidEvaluator could not score this run's generator; the message names the flag."""


def refuse_unevaluable(config: TrainerConfig, num_classes: int, eval_count: int) -> None:
    """Raises, before any training, when the FidEvaluator could not score this run: what
    `pipeline.preflight` checks at start for an image folder, here for input whose labels
    and split sizes only ingest learns (TFRecord, TFDS)."""
    extractor = metrics.resolve_extractor(config.fid_extractor, num_classes)
    if extractor == metrics.LABELED_EXTRACTOR and num_classes < 2:
        raise UnevaluableRunError(
            f"--fid-extractor {extractor} needs labeled images of at least two classes, but "
            f"the training split has {num_classes}; use --fid-extractor auto, saved_model or "
            f"inception")
    if extractor not in TRAINED_EXTRACTORS:
        return  # a model from a path: probed by preflight at start
    dim = fid_dim(extractor, config.image_spec)
    if metrics.fid_sample_refusal(eval_count, dim):
        raise UnevaluableRunError(
            f"--train-fraction: the eval split has {eval_count} images, and FID with the "
            f"{extractor} extractor ({dim}-d features) needs more than {dim}; add images, "
            f"lower --train-fraction, or use a --fid-extractor with fewer feature dimensions")


def cheap_fid_from(config: TrainerConfig, num_classes: int, train_files, tf_transform_output,
                   cache: FidCache | None) -> CheapFid | None:
    """The snapshot scorer, when configured, with the FidEvaluator's extractor (trained here
    or loaded from `cache`) when that is one trained on the training split."""
    if not config.fid_every_steps:
        return None
    extractor = metrics.resolve_extractor(config.fid_extractor, num_classes)
    if extractor not in TRAINED_EXTRACTORS:
        logging.warning("Best-snapshot selection is off: it scores with an extractor trained "
                        "on the training split (%s), not %s", ", ".join(TRAINED_EXTRACTORS),
                        extractor)
        return None
    try:
        return CheapFid.from_training_images(
            extractor,
            training_images(extractor, data.uint8_batches(train_files, tf_transform_output)),
            config.selection_samples, config.latent_dim, config.seed, cache)
    except ValueError as error:  # e.g. the domain classifier on unlabeled images
        logging.warning("Best-snapshot selection is off: %s", error)
        return None


def run_fn(fn_args) -> None:
    """TFX Trainer entry point (`fn_args` is a `tfx.v1.components.FnArgs`)."""
    config = TrainerConfig.from_custom_config(fn_args.custom_config)
    logging.info("Trainer config: %s", config)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    fingerprint = data.fingerprint(fn_args.train_files)
    settings = dict(fn_args.custom_config or {})
    locations = {key: settings.pop(key, None) for key in LOCATION_KEYS}
    settings.pop(CODE_VERSION_KEY, None)  # TFX's cache key; the training part stays in
    checkpoint_root = locations[CHECKPOINT_ROOT_KEY] or os.path.join(fn_args.model_run_dir,
                                                                     CHECKPOINTS_DIR)
    cache = FidCache(locations[FID_CACHE_KEY]) if locations[FID_CACHE_KEY] else None
    train_labels = data.label_ids(fn_args.train_files, tf_transform_output)
    num_classes = metrics.count_classes(train_labels)
    refuse_unevaluable(config, num_classes, data.count_records(fn_args.eval_files))
    result = train(config, data.transformed_images(fn_args.train_files, tf_transform_output,
                                                   len(train_labels)),
                   fn_args.train_steps, fn_args.model_run_dir,
                   checkpoint_directory(checkpoint_root, settings, fn_args.train_steps,
                                        fingerprint),
                   cheap_fid_from(config, num_classes, fn_args.train_files,
                                  tf_transform_output, cache))
    with worker_directory(fn_args.serving_model_dir,
                          result.gan.distribute_strategy) as serving_model_dir:
        export_generator(result.export_generator, serving_model_dir, {
            "latent_dim": config.latent_dim,
            "image_size": config.image_size,
            "channels": config.channels,
            "training_data_fingerprint": fingerprint,
            "training_plan": result.plan.to_json(),
            "fid": None,  # filled in by the pusher, from the evaluation that blessed the model
        })
    logging.info("Exported the generator to %s", fn_args.serving_model_dir)
