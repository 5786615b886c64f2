"""The training settings a user did not give, chosen from the data: the networks' width,
the batch, the learning rates, the generator EMA's half-life, DiffAugment, R1 and the
budget of images seen, from the image size, channels and number of training images;
and the arithmetic precision, from the machine.

The rules were set on this project's three kinds of data (`benchmarks.datasets`: 8x8
digits, 32x32 RGB photo crops, 32x32 grayscale objects) for a run of a few minutes of
training on a 2-core CPU (see docs/training.md for what they reach). Every choice, given
or chosen, is logged when training starts and recorded with the exported model (see
`TrainingPlan`). Free of TensorFlow.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from modules.training.config import EMA_BUDGET_SHARE, NO_AUGMENTATION, TrainerConfig
from modules.training.hardware import Hardware

BATCH_SIZE = 64  # DCGAN's
# The cost of an image grows with size² x width²: width 64 at 8 px costs what 16 costs at
# 32 px (where width 32 ran 4-6x slower than 16 on 2 CPU cores).
FULL_RESOLUTION_FILTERS = {8: 64, 16: 32}
MIN_FILTERS = 16
# Images seen in a run, by image size, on 2 cores of an AVX-512 CPU at the chosen widths:
# the digits at ~4,400 images/s (2 minutes; 1.8x the floor by the domain classifier and
# 1.5x by the self-supervised extractor; with the EMA at 5% of the budget 256,000 images
# gave 2.5x and 1.75x and 768,000 gave 1.7x and 1.4x), 32 px at ~1,450 images/s with
# DiffAugment (7 minutes; the object views and photo crops reach 1.3x and 2.0x their
# floors), 64 px at ~350 images/s (15 minutes): there the photo crops scored 11x with
# 160,000 images (EMA at 5%) and 3.2x with 320,000 (3.3x with 640,000: D wins after
# about 400,000, so more does not help). 128 px gets
# the 64 px run's compute by size^2 (the width stays at MIN_FILTERS), 80,000 images,
# which ran at ~63 images/s (21 minutes) and left the object views at 5.6x: 128 px needs
# a GPU.
IMAGE_BUDGET = {8: 512_000, 16: 640_000, 32: 640_000, 64: 320_000, 128: 80_000}
# The digits learn steadiest at half DCGAN's 2e-4; larger images at DCGAN's.
LEARNING_RATE = {8: 1e-4}
DCGAN_LEARNING_RATE = 2e-4
# DiffAugment (Zhao et al. 2020) keeps D from memorizing a small set; at 8 px a 4x4
# cutout hides half a digit and a one-pixel shift is an eighth of it. With R1 on, it
# slowed learning and did not help: ours alone on 800 images at 32 px (the snapshot
# picked on training images, FID against held-out ones) after 200,000 and 440,000
# images, the object views at 6.94x and 3.37x the floor with translation,cutout, 3.28x
# and 1.74x without; the photo crops 5.65x and 3.79x with, 7.64x and 3.54x without.
# Whole `make run`s without it: the object views 1.00x (1.51x with), the photo crops
# 1.65x and 1.69x by seed (1.58x with, recall 0.71 against 0.48), and at 64 px 1.97x
# (3.20x with, before R1). It stays for runs without R1, where the photo crops needed it
# (26.9x without).
AUGMENT_BELOW_IMAGES = 20_000
AUGMENT_MIN_SIZE = 16
SMALL_DATA_AUGMENTATIONS = "translation,cutout"
# R1 keeps D from running away from G on the real images. On the 32 px photo crops
# (2-core Xeon, mixed bfloat16) runs without it ended at 1.83x and 4.38x the floor by
# seed (D won the second after ~320,000 images); with weight 1 on every D update at
# 1.99x and 1.96x, lazily (every 16th, the default r1_interval) the second at 1.58x.
# The object views: 1.51x without, 1.65x with it on every update, 1.51x lazily. The
# digits reach their figures without it.
R1_WEIGHT = 1.0
R1_MIN_SIZE = 16


@dataclasses.dataclass(frozen=True)
class Choice:
    name: str
    value: Any
    reason: str  # "given" for a setting the user set


@dataclasses.dataclass(frozen=True)
class TrainingPlan:
    """A TrainerConfig with every setting filled in, and why each chosen one was."""

    config: TrainerConfig
    num_images: int
    hardware: Hardware
    choices: tuple[Choice, ...]

    def lines(self) -> list[str]:
        spec = self.config.image_spec
        return [f"Training plan for {self.num_images} images of {spec.size}x{spec.size}x"
                f"{spec.channels} on {self.hardware.describe()}:"] + [
            f"  {choice.name} = {choice.value}  ({choice.reason})" for choice in self.choices]

    def to_json(self) -> dict[str, Any]:
        return {"num_images": self.num_images, "hardware": self.hardware.describe(),
                "choices": [dataclasses.asdict(choice) for choice in self.choices]}


def plan_training(config: TrainerConfig, num_images: int, hardware: Hardware) -> TrainingPlan:
    """`config` with the settings it leaves to the data (None) chosen for `num_images`
    training images of its image spec, trained on `hardware`."""
    if num_images < 1:
        raise ValueError("there are no training images")
    size, shape = config.image_size, f"{config.image_size} px images"
    chosen: dict[str, tuple[Any, str]] = {}

    def choose(name: str, value: Any, reason: str) -> Any:
        given = getattr(config, name)
        if given is not None:
            chosen[name] = (given, "given")
            return given
        chosen[name] = (value, reason)
        return value

    filters = FULL_RESOLUTION_FILTERS.get(size, MIN_FILTERS)
    choose("generator_filters", filters, f"for {shape}")
    choose("discriminator_filters", filters, f"for {shape}")
    batch_size = choose("batch_size", BATCH_SIZE, "DCGAN's")
    rate = LEARNING_RATE.get(size, DCGAN_LEARNING_RATE)
    choose("generator_learning_rate", rate, f"for {shape}")
    choose("discriminator_learning_rate", rate, f"for {shape}")
    budget = IMAGE_BUDGET[size]
    images_per_step = batch_size * config.discriminator_steps
    steps = choose("train_steps", math.ceil(budget / images_per_step),
                   f"{budget:,} images for {shape}, {images_per_step} per step")
    # A short average: with the half-life at 5% of the budget (where the ramp-up ends)
    # the exported generators lagged behind (64 px photo crops 3.8x the floor with recall
    # 0.25, against 3.2x and 0.54 at 2%). StyleGAN2-ADA's 10k images per 32 of batch is
    # for runs of millions of images.
    images = steps * images_per_step
    choose("ema_half_life_images", int(EMA_BUDGET_SHARE * images),
           f"{EMA_BUDGET_SHARE:.0%} of the {images:,} images of the run")
    if config.loss == "wgan_gp":
        r1_weight = (0.0, "wgan_gp has its own gradient penalty")
    elif size >= R1_MIN_SIZE:
        r1_weight = (R1_WEIGHT, f"for {shape}: steadier runs on photos")
    else:
        r1_weight = (0.0, f"for {shape}: not needed on the digits")
    r1 = choose("r1_weight", *r1_weight)
    if num_images >= AUGMENT_BELOW_IMAGES:
        augment = (NO_AUGMENTATION, f"{AUGMENT_BELOW_IMAGES:,} images or more")
    elif size < AUGMENT_MIN_SIZE:
        augment = (NO_AUGMENTATION, f"images of {size} px: too small to shift or cut")
    elif r1:
        augment = (NO_AUGMENTATION, "R1 is on, and runs learned faster without it")
    else:
        augment = (SMALL_DATA_AUGMENTATIONS, f"fewer than {AUGMENT_BELOW_IMAGES:,} images, "
                                             "no R1")
    choose("diff_augment", *augment)
    # `benchmarks.training` on 2 cores: with AMX (a Xeon) mixed bfloat16 ran at 1.13x
    # float32's images/s on the digits and 1.26x at 32 px; with AVX512-BF16 alone (an AMD
    # EPYC) at 0.96-0.99x, the plan's widths being too narrow for it.
    if hardware.gpus:
        precision = ("float32", "GPU: mixed_float16 may be faster")
    elif hardware.bfloat16_matrix_units:
        precision = ("mixed_bfloat16", "CPU with AMX-BF16")
    else:
        precision = ("float32", "CPU without AMX-BF16")
    choose("precision", *precision)
    unknown = set(config.chosen_from_data) - set(chosen)
    if unknown:
        raise ValueError(f"no rule chooses {sorted(unknown)}")
    resolved = dataclasses.replace(config, **{name: value for name, (value, _) in chosen.items()})
    return TrainingPlan(resolved, num_images, hardware, tuple(
        Choice(name, value, reason) for name, (value, reason) in chosen.items()))
