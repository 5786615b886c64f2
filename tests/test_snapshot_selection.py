"""Best-snapshot selection with a real (small) domain classifier and real training."""
import dataclasses

import numpy as np
import pytest

from modules.images import to_uint8
from modules.quality.domain_classifier import TrainingImages
from modules.training.config import TrainerConfig
from modules.training.snapshot_selection import CheapFid
from modules.training.trainer import train
from tests.training_worker import TINY, stream_of


def two_class_images(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Bright top halves (class 0) and bright bottom halves (class 1), with noise."""
    rng = np.random.default_rng(0)
    labels = np.arange(count) % 2
    images = np.full((count, 8, 8, 1), -1.0, np.float32)
    images[labels == 0, :4] = 1.0
    images[labels == 1, 4:] = 1.0
    return np.clip(images + rng.normal(0, 0.1, images.shape), -1, 1).astype(np.float32), labels


def test_the_exported_generator_is_the_best_scored_snapshot(tmp_path):
    images, labels = two_class_images(400)
    # More samples than the classifier's 128 FID feature dimensions.
    config = TrainerConfig(**{**TINY, "fid_every_steps": 20, "selection_samples": 200})
    cheap_fid = CheapFid.from_training_images(
        "domain_classifier", TrainingImages.select([(to_uint8(images), labels)]), 200,
        config.latent_dim, seed=0, cache=None)

    result = train(config, stream_of(images), 100, str(tmp_path / "run"),
                   str(tmp_path / "checkpoints"), cheap_fid)

    best = result.best
    assert best.exists and result.export_generator is best.generator
    assert int(best.step.numpy()) in (20, 40, 60, 80, 100)
    assert cheap_fid(best.generator) == pytest.approx(float(best.fid.numpy()), rel=1e-4)
    assert float(best.fid.numpy()) <= cheap_fid(result.gan.inference_generator) + 1e-6


def test_without_selection_the_inference_generator_is_exported(tmp_path):
    images, _ = two_class_images(64)
    config = TrainerConfig(**TINY)
    result = train(config, stream_of(images), 10, str(tmp_path / "run"),
                   str(tmp_path / "checkpoints"))
    assert result.best is None and result.export_generator is result.gan.ema_generator
