import numpy as np

from modules.domain_classifier import ClassifierConfig, train_domain_classifier
from modules.images import ImageSpec, from_uint8
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
    assert features.shape == (400, 64)
    assert np.all(np.abs(features) <= 1)


def test_unlabeled_images_get_a_clear_error():
    pixels, _ = digits(20)
    with pytest.raises(ValueError, match="class"):
        train_domain_classifier(pixels, np.full(20, -1), ImageSpec(8, 1))
