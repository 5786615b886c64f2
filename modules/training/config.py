"""Typed, validated settings of the networks and the training loop (no TensorFlow import,
so the pipeline can validate them before anything heavy loads)."""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from modules.images import ImageSpec
from modules.quality.metrics import AUTO_EXTRACTOR, FID_EXTRACTOR_CHOICES
from modules.settings import set_from, setting

LOSS_NAMES = ("non_saturating", "least_squares", "hinge", "wgan_gp")
AUGMENTATIONS = ("color", "translation", "cutout")
NO_AUGMENTATION = "off"
ON_NON_FINITE = ("stop", "rollback")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
# The Trainer's custom_config keys for folders that outlive Trainer executions, set by
# the pipeline: checkpoints (see modules.training.checkpointing) and the FID cache it
# shares with the FidEvaluator (see modules.quality.fid_cache). Not TrainerConfig fields:
# where things live must not change which checkpoint a run resumes from.
CHECKPOINT_ROOT_KEY = "checkpoint_root"
FID_CACHE_KEY = "fid_cache_dir"
LOCATION_KEYS = (CHECKPOINT_ROOT_KEY, FID_CACHE_KEY)
# custom_config keys of code versions: the Trainer's whole code (TFX's cache key) and the
# part that changes training (in the checkpoint folder's key).
CODE_VERSION_KEY = "code_version"
TRAINING_CODE_VERSION_KEY = "training_code_version"
# What training ended with (step, images seen, last losses), in the Trainer's model run
# folder; the local runner's finish line reads it.
TRAINING_RESULT_FILE = "training_result.json"
# The EMA's half-life is at most this share of the images seen so far, so early averages
# are not dominated by the random initialization (StyleGAN2-ADA's `ema_rampup`,
# training/training_loop.py).
EMA_RAMPUP = 0.05
# The plan's half-life, as a share of the run's image budget: in runs of a few hundred
# thousand images the generator still improves late, and a longer average lags behind it
# (see modules.training.plan). The ramp-up reaches it at EMA_BUDGET_SHARE / EMA_RAMPUP of
# the run.
EMA_BUDGET_SHARE = 0.02


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    latent_dim: int = 64
    generator_filters: int = 64      # width at the full-resolution end
    discriminator_filters: int = 64
    spectral_normalization: bool = False  # in the discriminator


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    """The training stage's settings: everything `run_fn` reads from the Trainer's
    `custom_config` (see `to_custom_config`), and the step budget (its TrainArgs)."""

    # The shape every stage shares and the FidEvaluator's extractor (which selection
    # scores with when it is one trained on the training split,
    # `modules.quality.trained_extractors`):
    # the pipeline sets them from those stages' settings.
    image_size: int = set_from(8, "--image-size")
    channels: int = set_from(1, "--channels")
    fid_extractor: str = set_from(AUTO_EXTRACTOR, "--fid-extractor")
    # None: chosen from the data when training starts (`modules.training.plan`).
    train_steps: int | None = setting(
        None, alias="--train-steps",
        help="generator updates the Trainer runs; default: from an image budget for the data")
    latent_dim: int = 64
    generator_filters: int | None = setting(
        None, help="generator width at full resolution; default: from the image size")
    discriminator_filters: int | None = setting(
        None, help="discriminator width at full resolution; default: from the image size")
    batch_size: int | None = setting(None, alias="--batch-size",
                                     help="default: from the number of training images")
    generator_learning_rate: float | None = setting(None, help="default: from the image size")
    discriminator_learning_rate: float | None = setting(None, help="default: from the image size")
    adam_beta_1: float = 0.5
    loss: str = setting("non_saturating", choices=LOSS_NAMES)
    gradient_penalty_weight: float = setting(
        10.0, help="WGAN-GP's penalty (used with loss wgan_gp)")
    r1_weight: float | None = setting(
        None, help="R1 penalty on real images, any loss; 0 = off; default: from the image size")
    r1_interval: int = setting(
        16, help="apply R1 on every this many discriminator updates, weighted by it "
                 "(StyleGAN2's lazy regularization); 1 = on every update")
    ema_half_life_images: int | None = setting(
        None, help="half-life of the generator weights' moving average, in images seen; "
                   f"0 = off; at most {EMA_RAMPUP:.0%} of the images seen so far; default: "
                   f"{EMA_BUDGET_SHARE:.0%} of the image budget")
    spectral_normalization: bool = setting(False, help="in the discriminator")
    diff_augment: str | None = setting(
        None, help=f"comma-separated subset of {AUGMENTATIONS}, or {NO_AUGMENTATION}; "
                   "default: from the number of training images and the image size")
    augment_target: float = setting(
        0.0, help="0 = every augmentation on every image; else adapt how often each is "
                  "applied so that the sign of D's real logits averages this "
                  "(StyleGAN2-ADA's ADA uses 0.6)")
    discriminator_steps: int = setting(1, help="discriminator updates per generator update")
    seed: int = setting(0, help="also the FidEvaluator's: its noise and floor sample")
    log_every_steps: int = 500
    sample_every_steps: int = 2000
    sample_grid_size: int = 64
    steps_per_execution: int = 10
    precision: str | None = setting(
        None, choices=PRECISIONS,
        help="logits and losses stay float32; mixed_float16 is for GPUs; default: "
             "mixed_bfloat16 on a CPU with AMX, else float32")
    jit_compile: bool = setting(False, help="XLA: faster on GPUs, ~6x slower on our CPU")
    checkpoint_every_steps: int = 500
    fid_every_steps: int = setting(
        0, help="score the generator with a cheap FID every this many steps and export the "
                "best snapshot; 0 = off")
    selection_samples: int = setting(500, help="generated images each cheap FID scores")
    on_non_finite: str = setting("stop", choices=ON_NON_FINITE,
                                 help="or rollback to the last good checkpoint")
    max_rollbacks: int = setting(3, help="then stop anyway")

    def __post_init__(self):
        ImageSpec(self.image_size, self.channels)
        if self.loss not in LOSS_NAMES:
            raise ValueError(f"unknown GAN loss {self.loss!r}; choose one of {LOSS_NAMES}")
        unknown = set(self.augmentations) - set(AUGMENTATIONS)
        if unknown:
            raise ValueError(f"unknown diff_augment {sorted(unknown)}; choose from "
                             f"{AUGMENTATIONS} or {NO_AUGMENTATION}")
        if self.precision is not None and self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.on_non_finite not in ON_NON_FINITE:
            raise ValueError(f"on_non_finite must be one of {ON_NON_FINITE}, "
                             f"got {self.on_non_finite!r}")
        if self.fid_extractor not in FID_EXTRACTOR_CHOICES:
            raise ValueError(f"unknown fid_extractor {self.fid_extractor!r}; choose one of "
                             f"{FID_EXTRACTOR_CHOICES}")
        if not 0 <= self.augment_target < 1:
            raise ValueError(f"augment_target must be in [0, 1), got {self.augment_target}")
        # Settings left to the data (None) are checked once chosen.
        for name in ("train_steps", "selection_samples", "checkpoint_every_steps",
                     "discriminator_steps", "batch_size", "log_every_steps", "latent_dim",
                     "r1_interval",
                     "generator_filters", "discriminator_filters",
                     "sample_every_steps", "sample_grid_size", "steps_per_execution"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        for name in ("gradient_penalty_weight", "r1_weight", "ema_half_life_images",
                     "max_rollbacks", "fid_every_steps"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        for name in ("generator_learning_rate", "discriminator_learning_rate"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")

    @property
    def chosen_from_data(self) -> tuple[str, ...]:
        """The settings left to `modules.training.plan` (None here)."""
        return tuple(field.name for field in dataclasses.fields(self)
                     if getattr(self, field.name) is None)

    def to_custom_config(self) -> dict[str, Any]:
        """The Trainer's `custom_config` entries; the pipeline adds the code versions and
        locations (see the keys above)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_custom_config(cls, custom_config: Mapping[str, Any] | None) -> "TrainerConfig":
        """Takes the fields this dataclass knows; other pipeline settings are ignored."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (custom_config or {}).items() if k in names})

    @property
    def image_spec(self) -> ImageSpec:
        return ImageSpec(self.image_size, self.channels)

    @property
    def network_config(self) -> NetworkConfig:
        return NetworkConfig(self.latent_dim, self.generator_filters, self.discriminator_filters,
                             self.spectral_normalization)

    @property
    def augmentations(self) -> tuple[str, ...]:
        if self.diff_augment in (None, NO_AUGMENTATION):
            return ()
        return tuple(name.strip() for name in self.diff_augment.split(",") if name.strip())
