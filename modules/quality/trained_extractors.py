"""The FID extractors trained on the training split, by name: the domain classifier
(needs labels) and the self-supervised encoder (ignores them). The Trainer's snapshot
selection and the FidEvaluator both get them here, so the two select the same training
images, share one cache entry, and the extractor is trained once per run."""
from __future__ import annotations

import dataclasses
from typing import Callable, Iterable, Protocol

import numpy as np

from modules.images import ImageSpec
from modules.quality.domain_classifier import (ClassifierConfig, TrainingImages,
                                               cached_domain_classifier)
from modules.quality.fid_cache import FidCache
from modules.quality.self_supervised import SelfSupervisedConfig, cached_self_supervised


class TrainedModel(Protocol):
    def features(self, pixels: np.ndarray) -> np.ndarray:
        """Images in [-1, 1] to float64 features [N, D]."""


@dataclasses.dataclass(frozen=True)
class _Trained:
    max_train_images: int
    labeled_only: bool
    cached: Callable[[TrainingImages, int, FidCache | None], tuple[TrainedModel, str]]
    fid_dim: Callable[[ImageSpec], int]


_TRAINED = {
    "domain_classifier": _Trained(ClassifierConfig.max_train_images, True,
                                  cached_domain_classifier,
                                  lambda spec: ClassifierConfig().fid_dim),  # any size
    "self_supervised": _Trained(SelfSupervisedConfig.max_train_images, False,
                                cached_self_supervised, SelfSupervisedConfig().fid_dim),
}
TRAINED_EXTRACTORS = tuple(_TRAINED)


def _trained(name: str) -> _Trained:
    if name not in _TRAINED:
        raise ValueError(f"{name!r} is not a trained FID extractor; choose one of "
                         f"{TRAINED_EXTRACTORS}")
    return _TRAINED[name]


def needs_labels(name: str) -> bool:
    return _trained(name).labeled_only


def fid_dim(name: str, spec: ImageSpec) -> int:
    """Dimensions of the features FID sees from extractor `name` on images of `spec`."""
    return _trained(name).fid_dim(spec)


def training_images(name: str, batches: Iterable[tuple[np.ndarray, np.ndarray]]
                    ) -> TrainingImages:
    """The images extractor `name` trains on, from (uint8 pixels, label ids) batches."""
    trained = _trained(name)
    return TrainingImages.select(batches, trained.max_train_images, trained.labeled_only)


def cached_trained_extractor(name: str, images: TrainingImages, seed: int,
                             cache: FidCache | None) -> tuple[TrainedModel, str]:
    """Extractor `name` trained on `images` (from `training_images`) with `seed`, and its
    identity: loaded from `cache` when there, else trained and stored."""
    return _trained(name).cached(images, seed, cache)
