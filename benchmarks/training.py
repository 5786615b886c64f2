"""Training throughput: our compiled train step vs a TensorFlow-tutorial DCGAN loop.

    .venv/bin/python -m benchmarks.training [--kind rgb_photos [--size 64]] [--filters 64]

Same networks (by default the training plan's for the data: what `make run` trains;
DiffAugment off, as the tutorial has none), same batch (64), same data (one kind of
`benchmarks.datasets`, by default the bundled digits, in memory, shuffled, prefetched),
same process. The reference is
the loop of the TensorFlow DCGAN tutorial: a `tf.function` train step with both
tapes, called once per batch from Python. Ours is `GAN.fit` with the Trainer's
defaults (several steps per compiled call), in float32 and in mixed bfloat16.

Each contender is timed to the end of its last step: `fit` returns only when the
tf.data autotuner next wakes (0 to 10 s later), a wait the tutorial loop does not
have. Contenders take turns for ROUNDS rounds (in reverse order every other round);
the median, the spread and the load average are printed.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf

from benchmarks import datasets
from benchmarks.timing import interleaved_timings, load_average
from modules.images import from_uint8
from modules.keras import keras
from modules.training.config import NO_AUGMENTATION, TrainerConfig
from modules.training.losses import NonSaturatingLoss
from modules.training.networks import build_discriminator, build_generator
from modules.training.plan import plan_training
from modules.training.trainer import build_gan, this_machine

STEPS_PER_REPEAT = 200
ROUNDS = 7


PHOTO_COUNT = 1000  # of each 32x32 kind (training_quality: 800 training, 200 held out)


def image_dataset(pixels: np.ndarray, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """Shuffled, repeated, prefetched batches of uint8 [N, H, W, C] images scaled to
    [-1, 1]."""
    return (tf.data.Dataset.from_tensor_slices(from_uint8(pixels))
            .shuffle(len(pixels), seed=seed).repeat().batch(batch_size, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE))


# The tutorial's optimizers: Adam(1e-4) with Keras' default moments, for both networks.
TUTORIAL_LEARNING_RATE = 1e-4


class TutorialDcgan:
    """The TensorFlow DCGAN tutorial's training loop around our networks: a `tf.function`
    step with both tapes, called once per batch from Python, and the tutorial's optimizers."""

    def __init__(self, config: TrainerConfig):
        self.config = config
        self.generator = build_generator(config.image_spec, config.network_config)
        self.discriminator = build_discriminator(config.image_spec, config.network_config)
        self.loss = NonSaturatingLoss()
        self.generator_optimizer = keras.optimizers.Adam(TUTORIAL_LEARNING_RATE)
        self.discriminator_optimizer = keras.optimizers.Adam(TUTORIAL_LEARNING_RATE)
        self.train_step = tf.function(self._train_step)

    def _train_step(self, images):
        noise = tf.random.normal([self.config.batch_size, self.config.latent_dim])
        with tf.GradientTape() as generator_tape, tf.GradientTape() as discriminator_tape:
            generated = self.generator(noise, training=True)
            real_logits = self.discriminator(images, training=True)
            fake_logits = self.discriminator(generated, training=True)
            generator_loss = self.loss.generator_loss(fake_logits)
            discriminator_loss = self.loss.discriminator_loss(real_logits, fake_logits)
        self.generator_optimizer.apply_gradients(zip(
            generator_tape.gradient(generator_loss, self.generator.trainable_variables),
            self.generator.trainable_variables))
        self.discriminator_optimizer.apply_gradients(zip(
            discriminator_tape.gradient(discriminator_loss,
                                        self.discriminator.trainable_variables),
            self.discriminator.trainable_variables))

    def train(self, batches, steps: int) -> float:
        """Seconds to the end of the last step."""
        start = time.perf_counter()
        for _ in range(steps):
            self.train_step(next(batches))
        return time.perf_counter() - start


def tutorial_loop(config: TrainerConfig, dataset: tf.data.Dataset, steps: int):
    reference = TutorialDcgan(config)
    batches = iter(dataset)
    return lambda: reference.train(batches, steps)


class _LastStep(keras.callbacks.Callback):
    """When the last compiled call of steps ended."""

    def on_train_batch_end(self, batch, logs=None):
        self.ended = time.perf_counter()


def our_fit(config: TrainerConfig, dataset: tf.data.Dataset, steps: int):
    gan = build_gan(config)
    last_step = _LastStep()

    def run() -> float:
        start = time.perf_counter()
        gan.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0,
                callbacks=[last_step])
        return last_step.ended - start
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bfloat16", action="store_true",
                        help="time mixed_bfloat16 even on a CPU without bfloat16 instructions")
    parser.add_argument("--kind", choices=datasets.KINDS, default="digits",
                        help=f"the data (the photo kinds: {PHOTO_COUNT} images)")
    parser.add_argument("--size", type=int, default=32,
                        help="the photo kinds' image size (the digits are 8x8)")
    parser.add_argument("--filters", type=int, default=None,
                        help="both networks' width at full resolution; default: the plan's")
    parser.add_argument("--steps", type=int, default=STEPS_PER_REPEAT,
                        help="steps per contender and round")
    args = parser.parse_args()
    pixels, _ = datasets.build(args.kind, None if args.kind == "digits" else PHOTO_COUNT,
                               args.size)
    # The plan for the data (what make run trains on it), the widths as asked, and no
    # DiffAugment: the tutorial loop has none, and both must do the same work. Each
    # contender sets its own precision.
    hardware = this_machine()
    config = plan_training(TrainerConfig(
        image_size=pixels.shape[1], channels=pixels.shape[3], generator_filters=args.filters,
        discriminator_filters=args.filters, diff_augment=NO_AUGMENTATION,
        precision="float32"), len(pixels), hardware).config
    dataset = image_dataset(pixels, config.batch_size)
    images_per_round = args.steps * config.batch_size
    instructions = hardware.bfloat16_instructions
    print(f"training throughput, {args.kind}: {config.image_size}x{config.image_size}x"
          f"{config.channels} DCGAN of width {config.generator_filters}, batch "
          f"{config.batch_size}, TensorFlow {tf.__version__}; {ROUNDS} rounds of "
          f"{args.steps} steps, each timed to its last step; bfloat16 instructions: "
          f"{', '.join(instructions) or 'none'}; before: {load_average()}")
    reference_name = "tutorial loop (reference)"
    contenders = {
        reference_name: tutorial_loop(config, dataset, args.steps),
        f"ours, float32 ({config.steps_per_execution} steps/call)": our_fit(config, dataset,
                                                                            args.steps),
    }
    if instructions or args.bfloat16:
        contenders["ours, mixed_bfloat16"] = our_fit(
            dataclasses.replace(config, precision="mixed_bfloat16"), dataset, args.steps)
    else:
        print("  (mixed_bfloat16 not timed: this CPU would emulate it; --bfloat16 times it)")
    timings = interleaved_timings(contenders, ROUNDS, alternate=True)
    reference = images_per_round / timings[reference_name].median
    for name, timing in timings.items():
        rate = images_per_round / timing.median
        slowest, fastest = (images_per_round / seconds for seconds in reversed(timing.spread))
        print(f"  {name:34s} {rate:7.0f} images/s (rounds {slowest:.0f}-{fastest:.0f})   "
              f"{rate / reference:4.2f}x reference")
    print(f"after: {load_average()}")


if __name__ == "__main__":
    main()
