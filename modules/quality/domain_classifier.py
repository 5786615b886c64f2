"""A small classifier trained on the training split, used as the FID feature extractor.

The standard Inception-v3 FID weights are downloaded at run time by every FID
library; this extractor needs nothing but the data. Its learned features are a
tanh layer: bounded, and full rank on the data (ReLU features left dead units and
a rank-deficient covariance); FID sees them with the first layer's texture
statistics (`modules.quality.extractor_features`). Numbers are comparable only
between runs that use the same extractor, which training deterministically from a seed
gives.

The Trainer (for best-snapshot selection) and the FidEvaluator need the same
classifier: both select its training images with `TrainingImages.select` and get
it from `cached_domain_classifier`, so whichever runs first trains it and the
other loads it from the shared cache.
"""
from __future__ import annotations

import dataclasses
import pathlib
from typing import Iterable

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np

from modules.images import ImageSpec, from_uint8
from modules.keras import keras
from modules.quality import extractor_features
from modules.quality.extractor_features import ExtractorFeatures
from modules.quality.fid_cache import FidCache, digests_fingerprint, image_digests, sha256_hex

FEATURES_LAYER = "features"
FIRST_LAYER = "first"
FIRST_LAYER_FILTERS = 32


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    feature_dim: int = 64
    epochs: int = 30
    batch_size: int = 64
    seed: int = 0
    max_train_images: int = 20_000

    @property
    def fid_dim(self) -> int:
        """Dimensions of the features FID sees."""
        return self.feature_dim + extractor_features.texture_dim(FIRST_LAYER_FILTERS)


@dataclasses.dataclass
class DomainClassifier:
    model: keras.Model
    extractor: ExtractorFeatures
    holdout_accuracy: float

    @classmethod
    def from_model(cls, model: keras.Model, holdout_accuracy: float,
                   pixels: np.ndarray) -> "DomainClassifier":
        """The classifier's FID features calibrated on its training images `pixels`."""
        return cls(model, ExtractorFeatures.calibrated(model, FEATURES_LAYER, FIRST_LAYER, pixels),
                   holdout_accuracy)

    def features(self, pixels: np.ndarray) -> np.ndarray:
        """float64 FID features [N, ClassifierConfig.fid_dim] of images in [-1, 1]."""
        return self.extractor.features(pixels)

    def logits(self, pixels: np.ndarray) -> np.ndarray:
        """float64 class logits [N, classes] of images in [-1, 1]: the softmax layer's
        input, from the learned features (for the classifier score)."""
        kernel, bias = self.model.layers[-1].get_weights()
        return self.extractor.learned_features(pixels) @ kernel.astype(np.float64) + bias


def build_classifier(spec: ImageSpec, num_classes: int, config: ClassifierConfig) -> keras.Model:
    images = keras.Input(spec.shape)
    x = images
    filters = FIRST_LAYER_FILTERS
    size = spec.size
    while True:
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                name=None if x is not images else FIRST_LAYER)(x)
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
    """Fits the classifier on the labeled images given; keeps 10% aside to report accuracy."""
    labeled = label_ids >= 0
    if labeled.sum() < 2 or len(np.unique(label_ids[labeled])) < 2:
        raise ValueError(
            "the domain_classifier FID extractor needs labeled images of at least two classes "
            "(put each class in its own subfolder of the data folder)")
    order = np.random.default_rng(config.seed).permutation(int(labeled.sum()))
    shuffled, label_ids = pixels[labeled][order], label_ids[labeled][order]
    holdout = max(1, len(shuffled) // 10)
    keras.utils.set_random_seed(config.seed)
    model = build_classifier(spec, int(label_ids.max()) + 1, config)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(shuffled[holdout:], label_ids[holdout:], epochs=config.epochs,
              batch_size=config.batch_size, shuffle=True, verbose=0)
    _, accuracy = model.evaluate(shuffled[:holdout], label_ids[:holdout], verbose=0)
    return DomainClassifier.from_model(model, float(accuracy), pixels[labeled])


@dataclasses.dataclass(frozen=True)
class TrainingImages:
    """An extractor's training images: of the labeled images (or of all images, labels
    ignored, with `labeled_only` False), the `limit` with the smallest content digests, in
    digest order. A function of the set of images alone, so the Trainer (streaming its
    split) and the evaluator (holding it in memory) select the same images, in the same
    order, whatever order they read them in, with a bounded memory."""

    pixels: np.ndarray   # uint8 [N, H, W, C], as the ingested PNGs held them
    labels: np.ndarray   # label ids [N]
    digests: np.ndarray  # `fid_cache.image_digests`, ascending

    @classmethod
    def select(cls, batches: Iterable[tuple[np.ndarray, np.ndarray]],
               limit: int = ClassifierConfig.max_train_images,
               labeled_only: bool = True) -> "TrainingImages":
        """From (uint8 pixels, label ids) batches, e.g. `modules.data.uint8_batches`; holds
        at most about twice `limit` images at a time."""
        def smallest(pool):
            pixels, labels, digests = (np.concatenate(arrays) for arrays in zip(*pool))
            kept = np.argsort(digests, kind="stable")[:limit]
            return pixels[kept], labels[kept], digests[kept]

        pool = []
        for pixels, labels in batches:
            if labeled_only:
                kept = labels >= 0
                pool.append((pixels[kept], labels[kept], image_digests(pixels[kept],
                                                                        labels[kept])))
            else:
                pool.append((pixels, labels, image_digests(pixels)))
            if sum(len(digests) for _, _, digests in pool) >= 2 * limit:
                pool = [smallest(pool)]
        if not pool:
            raise ValueError("no training images to train the FID extractor on")
        return cls(*smallest(pool))

    @property
    def spec(self) -> ImageSpec:
        return ImageSpec(self.pixels.shape[1], self.pixels.shape[3])

    @property
    def fingerprint(self) -> str:
        return digests_fingerprint(self.pixels.shape[1:], self.digests)


def cached_domain_classifier(images: TrainingImages, seed: int, cache: FidCache | None
                             ) -> tuple[DomainClassifier, str]:
    """The classifier trained on `images` with `seed`, and its identity: loaded from `cache`
    when an entry for the same images, settings and code exists, else trained (and stored)."""
    config = ClassifierConfig(seed=seed)
    code = b"".join(pathlib.Path(source).read_bytes()
                    for source in (__file__, extractor_features.__file__))
    key = sha256_hex(images.fingerprint.encode(), repr(config).encode(), code)[:24]
    stored = cache.load(f"classifier-{key}") if cache else None
    if stored is not None:
        model = build_classifier(images.spec, int(stored["num_classes"]), config)
        model.set_weights([stored[f"w{i}"] for i in range(len(model.weights))])
        classifier = DomainClassifier.from_model(model, float(stored["holdout_accuracy"]),
                                                 from_uint8(images.pixels))
    else:
        classifier = train_domain_classifier(from_uint8(images.pixels), images.labels,
                                             images.spec, config)
        if cache:
            cache.save(f"classifier-{key}", num_classes=classifier.model.output_shape[-1],
                       holdout_accuracy=classifier.holdout_accuracy,
                       **{f"w{i}": w for i, w in enumerate(classifier.model.get_weights())})
    return classifier, f"domain_classifier:{key}"
