"""A small classifier trained on the training split, used as the FID feature extractor.

The standard Inception-v3 FID weights are downloaded at run time by every FID
library; this extractor needs nothing but the data. Its features are a tanh
layer: bounded, and full rank on the data (ReLU features left dead units and a
rank-deficient covariance). Numbers are comparable only between runs that use
the same extractor, which training deterministically from a seed gives.
"""
from __future__ import annotations

import dataclasses

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np

from modules.images import ImageSpec
from modules.keras import keras

FEATURES_LAYER = "features"


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    feature_dim: int = 64
    epochs: int = 30
    batch_size: int = 64
    seed: int = 0
    max_train_images: int = 20_000


@dataclasses.dataclass
class DomainClassifier:
    model: keras.Model
    extractor: keras.Model
    holdout_accuracy: float

    @classmethod
    def from_model(cls, model: keras.Model, holdout_accuracy: float) -> "DomainClassifier":
        return cls(model, keras.Model(model.input, model.get_layer(FEATURES_LAYER).output),
                   holdout_accuracy)

    def features(self, pixels: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """float64 features [N, feature_dim] of images in [-1, 1]."""
        return self.extractor.predict(pixels, batch_size=batch_size, verbose=0).astype(np.float64)


def build_classifier(spec: ImageSpec, num_classes: int, config: ClassifierConfig) -> keras.Model:
    images = keras.Input(spec.shape)
    x = images
    filters = 32
    size = spec.size
    while True:
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        if size <= 4:
            break
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
        size //= 2
        filters = min(filters * 2, 256)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.3)(x)
    x = keras.layers.Dense(config.feature_dim, activation="tanh", name=FEATURES_LAYER)(x)
    probabilities = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(images, probabilities, name="domain_classifier")


def train_domain_classifier(pixels: np.ndarray, label_ids: np.ndarray, spec: ImageSpec,
                            config: ClassifierConfig = ClassifierConfig()) -> DomainClassifier:
    """Fits the classifier on labeled training images; keeps 10% aside to report accuracy."""
    labeled = label_ids >= 0
    if labeled.sum() < 2 or len(np.unique(label_ids[labeled])) < 2:
        raise ValueError(
            "the domain_classifier FID extractor needs labeled images of at least two classes "
            "(put each class in its own subfolder of the data folder)")
    pixels, label_ids = pixels[labeled], label_ids[labeled]
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(pixels))[:config.max_train_images]
    pixels, label_ids = pixels[order], label_ids[order]
    holdout = max(1, len(pixels) // 10)
    keras.utils.set_random_seed(config.seed)
    model = build_classifier(spec, int(label_ids.max()) + 1, config)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(pixels[holdout:], label_ids[holdout:], epochs=config.epochs,
              batch_size=config.batch_size, shuffle=True, verbose=0)
    _, accuracy = model.evaluate(pixels[:holdout], label_ids[:holdout], verbose=0)
    return DomainClassifier.from_model(model, float(accuracy))
