import numpy as np

from modules.images import ImageSpec, from_uint8
from modules.quality.domain_classifier import (ClassifierConfig, TrainingImages,
                                               train_domain_classifier)
from pipeline.bundled_data import digits_as_uint8

import pytest


def digits(count=400):
    pixels, labels = digits_as_uint8()
    return from_uint8(pixels[:count, :, :, None]), labels[:count]


def test_training_is_deterministic_and_learns_the_digits():
    pixels, labels = digits()
    config = ClassifierConfig(epochs=8)
    first = train_domain_classifier(pixels, labels, ImageSpec(8, 1), config)
    second = train_domain_classifier(pixels, labels, ImageSpec(8, 1), config)
    np.testing.assert_array_equal(first.features(pixels[:50]), second.features(pixels[:50]))
    assert first.holdout_accuracy > 0.8
    features = first.features(pixels)
    assert features.shape == (400, config.fid_dim) == (400, 64 + 2 * 32)
    learned = first.extractor.learned_features(pixels)
    np.testing.assert_array_equal(features[:, :64], learned)
    assert np.all(np.abs(learned) <= 1)
    # The texture block: standardized on the training images, a quarter of the variance.
    texture = features[:, 64:]
    np.testing.assert_allclose(texture.mean(axis=0), 0, atol=1e-6)
    assert texture.var(axis=0).sum() == pytest.approx(0.25 * learned.var(axis=0).sum())


def test_unlabeled_images_get_a_clear_error():
    pixels, _ = digits(20)
    with pytest.raises(ValueError, match="class"):
        train_domain_classifier(pixels, np.full(20, -1), ImageSpec(8, 1))


def test_training_images_are_a_function_of_the_image_set_not_of_the_reading_order():
    pixels, labels = digits_as_uint8()
    pixels, labels = pixels[:300, :, :, None], labels[:300].copy()
    labels[:7] = -1  # unlabeled images are never selected
    everything = TrainingImages.select([(pixels, labels)], limit=100)
    order = np.random.default_rng(1).permutation(len(pixels))
    streamed = TrainingImages.select(
        ((pixels[order[start:start + 32]], labels[order[start:start + 32]])
         for start in range(0, len(pixels), 32)), limit=100)

    assert len(everything.pixels) == 100 and everything.labels.min() >= 0
    assert list(everything.digests) == sorted(everything.digests)
    np.testing.assert_array_equal(streamed.pixels, everything.pixels)
    np.testing.assert_array_equal(streamed.labels, everything.labels)
    assert streamed.fingerprint == everything.fingerprint
    assert TrainingImages.select([(pixels, labels)], limit=99).fingerprint != \
        everything.fingerprint
