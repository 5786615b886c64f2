"""The self-supervised FID extractor: deterministic for a seed, full-rank features, any
channels and size, labels ignored, trained once and then loaded from the cache."""
import dataclasses

import numpy as np
import pytest

from benchmarks import datasets
from modules.images import ImageSpec, from_uint8
from modules.quality import self_supervised
from modules.quality.domain_classifier import TrainingImages
from modules.quality.fid_cache import FidCache
from modules.quality.self_supervised import (SelfSupervisedConfig, build_encoder,
                                             cached_self_supervised, train_self_supervised)
from modules.quality.trained_extractors import training_images

SMALL = SelfSupervisedConfig(images_seen=1_000, batch_size=64)


def photos(count, size=8):
    return from_uint8(datasets.rgb_photos(count, size, seed=1))


def test_training_is_deterministic_for_a_seed_and_differs_across_seeds():
    pixels = photos(200)
    first = train_self_supervised(pixels, ImageSpec(8, 3), SMALL)
    again = train_self_supervised(pixels, ImageSpec(8, 3), SMALL)
    other = train_self_supervised(pixels, ImageSpec(8, 3), dataclasses.replace(SMALL, seed=1))
    np.testing.assert_array_equal(first.features(pixels), again.features(pixels))
    assert not np.allclose(first.features(pixels), other.features(pixels))


def test_features_are_bounded_and_full_rank_on_real_images():
    pixels = photos(300)
    model = train_self_supervised(pixels, ImageSpec(8, 3), SMALL)
    features = model.features(pixels)
    dim = SMALL.fid_dim(ImageSpec(8, 3))
    assert features.shape == (300, dim) and features.dtype == np.float64
    assert np.all(np.abs(features[:, :SMALL.feature_dim]) <= 1)
    assert np.linalg.matrix_rank(np.cov(features, rowvar=False)) == dim
    assert np.isfinite(model.final_loss)


@pytest.mark.parametrize("size,channels", [(8, 1), (32, 1), (16, 3), (128, 3)])
def test_any_supported_size_and_channels_maps_to_the_feature_dimension(size, channels):
    spec = ImageSpec(size, channels)
    images = np.random.default_rng(0).uniform(-1, 1, (4, *spec.shape)).astype(np.float32)
    model = train_self_supervised(images, spec, SelfSupervisedConfig(images_seen=8))
    assert build_encoder(spec, SelfSupervisedConfig()).output_shape == (None, 64)
    first_layer_filters = {8: 64, 16: 32, 32: 16, 128: 16}[size]
    assert model.features(images).shape == (4, 64 + 2 * first_layer_filters)
    assert SelfSupervisedConfig().fid_dim(spec) == 64 + 2 * first_layer_filters


def test_labels_are_ignored_when_selecting_its_training_images():
    pixels = datasets.gray_objects(50, 8, seed=0)
    unlabeled = training_images("self_supervised", [(pixels, np.full(50, -1))])
    labeled = training_images("self_supervised", [(pixels, np.arange(50) % 3)])
    assert len(unlabeled.pixels) == 50
    assert unlabeled.fingerprint == labeled.fingerprint
    with pytest.raises(ValueError, match="at least two training images"):
        train_self_supervised(from_uint8(pixels[:1]), ImageSpec(8, 1))


def test_trained_once_then_loaded_from_the_cache(tmp_path, monkeypatch):
    pixels, _ = datasets.digits(200)
    images = TrainingImages.select([(pixels, np.full(200, -1))], labeled_only=False)
    cache = FidCache(str(tmp_path / "cache"))
    trained, identity = cached_self_supervised(images, seed=0, cache=cache)

    def must_not_train(*args, **kwargs):
        raise AssertionError("the encoder should come from the cache")

    monkeypatch.setattr(self_supervised, "train_self_supervised", must_not_train)
    loaded, loaded_identity = cached_self_supervised(images, seed=0, cache=cache)
    assert loaded_identity == identity and identity.startswith("self_supervised:")
    real = from_uint8(pixels)
    np.testing.assert_allclose(loaded.features(real), trained.features(real), atol=1e-6)
