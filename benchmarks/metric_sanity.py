"""Does FID rank known degradations correctly, with every extractor the pipeline offers, on
every kind of data? Measured, in units of the real-vs-real floor.

    .venv/bin/python -m benchmarks.metric_sanity

For each data kind of `benchmarks.datasets` (digits, rgb_photos, gray_objects) the images
are split as the pipeline splits them (80% training, 20% held out). Each extractor is built
from the training split through the evaluator's own code (`components.evaluation.extractors`): the
domain classifier (labeled digits only), the self-supervised encoder, and two `saved_model`
extractors, saved and loaded as a user's SavedModel is: the self-supervised encoder
exported (a trained extractor from elsewhere) and a fixed random-init convolutional
network (what an untrained generic network gives). FID (`modules.quality.metrics`) compares a
sample of training images with held-out images, degraded, quantized to uint8 as the
evaluator quantizes generated images; the floor is the same comparison without
degradation, at the same sample counts.

An extractor passes on a data kind when
    floor < slight blur, slight noise < heavy blur < one image repeated < uniform noise
and FID grows with the strength of each degradation.
"""
from __future__ import annotations

import dataclasses
import tempfile
import time
from typing import Callable

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf
from scipy import ndimage

from benchmarks import datasets
from components.evaluation.extractors import FeatureExtractor, TrainedExtractor, build_extractor
from modules.images import ImageSpec, from_uint8, to_uint8
from modules.keras import keras
from modules.quality import metrics

HELD_OUT_FRACTION = 0.2
SAMPLE_SIZE = 32          # rgb_photos and gray_objects; digits keep 8x8
IMAGE_COUNT = 1800        # rgb_photos and gray_objects; about the 1,797 digits
SEED = 0


@dataclasses.dataclass(frozen=True)
class Degradation:
    family: str
    strength: float
    apply: Callable[[np.ndarray, np.random.Generator], np.ndarray]  # [-1, 1] floats

    @property
    def name(self) -> str:
        return f"{self.family} {self.strength:g}"


def _blur(sigma: float):
    return lambda images, rng: ndimage.gaussian_filter(images, (0, sigma, sigma, 0),
                                                       mode="reflect")


def _noise(std: float):
    return lambda images, rng: images + rng.normal(0.0, std, images.shape)


def _collapse(distinct: int):
    """`distinct` images, each repeated: mode collapse (1: one image repeated)."""
    return lambda images, rng: images[np.arange(len(images)) % distinct]


def _uniform(weight: float):
    """Blended with uniform noise (1: uniform noise alone)."""
    return lambda images, rng: (1 - weight) * images + weight * rng.uniform(-1, 1, images.shape)


def blur_sigmas(size: int) -> tuple[float, ...]:
    """Gaussian blur in pixels: 0.5, 1 and 2 at 32 px, scaled with larger sizes. Below 32 px,
    where a blur under ~0.35 px changes no pixel and 2 px scaled from 8 would erase a
    digit: 0.35, 0.5 and 0.7 px at 8 px (strokes soften but stay legible), scaled."""
    if size >= 32:
        return tuple(sigma * size / 32 for sigma in (0.5, 1, 2))
    return tuple(round(sigma * size / 8, 3) for sigma in (0.35, 0.5, 0.7))


def degradations(size: int) -> list[Degradation]:
    """Each family from its slightest to its strongest level. The slightest noise, σ 0.05
    (about 6 of 255 grey levels), is the least FID resolves from the floor at a few hundred
    images: at σ 0.03 every extractor measured, the untrained one too, scored at the floor
    on the grey objects."""
    return ([Degradation("blur", sigma, _blur(sigma)) for sigma in blur_sigmas(size)]
            + [Degradation("noise", std, _noise(std)) for std in (0.05, 0.1, 0.3)]
            + [Degradation("collapse", distinct, _collapse(distinct))
               for distinct in (16, 4, 1)]
            + [Degradation("uniform", weight, _uniform(weight)) for weight in (0.25, 0.5, 1)])


@dataclasses.dataclass(frozen=True)
class SanityResult:
    kind: str
    extractor: str
    count: int                    # images per side of every FID
    floor: float
    fids: dict[str, float]        # by degradation name, in the order of `degradations`
    failures: tuple[str, ...]     # the orderings that do not hold

    @property
    def passed(self) -> bool:
        return not self.failures

    def in_floor_units(self, name: str) -> float:
        return self.fids[name] / self.floor


def check_ordering(floor: float, fids: dict[str, float], steps: list[Degradation]
                   ) -> tuple[str, ...]:
    """The orderings (see the module docstring) that `fids` break."""
    family = {name: [s.name for s in steps if s.family == name]
              for name in ("blur", "noise", "collapse", "uniform")}
    required = [("floor", family["blur"][0]), ("floor", family["noise"][0]),
                (family["blur"][0], family["blur"][-1]),
                (family["noise"][0], family["blur"][-1]),
                (family["blur"][-1], family["collapse"][-1]),
                (family["collapse"][-1], family["uniform"][-1])]
    for names in family.values():
        required += list(zip(names, names[1:]))
    values = {"floor": floor, **fids}
    return tuple(f"{lower} !< {higher}" for lower, higher in required
                 if not values[lower] < values[higher])


def measure(kind: str, extractor_name: str, extractor: FeatureExtractor, train: np.ndarray,
            held_out: np.ndarray, seed: int = SEED) -> SanityResult:
    """FID of degraded held-out images (uint8) against as many training images."""
    rng = np.random.default_rng(seed)
    count = len(held_out)
    reference = extractor.features(train[rng.permutation(len(train))[:count]])
    steps = degradations(held_out.shape[1])
    floor = metrics.fid(reference, extractor.features(held_out))
    fids = {}
    for step in steps:
        degraded = to_uint8(np.clip(step.apply(from_uint8(held_out).astype(np.float64),
                                               np.random.default_rng(seed)), -1, 1))
        fids[step.name] = metrics.fid(reference, extractor.features(degraded))
    return SanityResult(kind, extractor_name, count, floor, fids,
                        check_ordering(floor, fids, steps))


def split(images: np.ndarray, labels: np.ndarray | None, seed: int = SEED):
    """(train pixels, train labels, held-out pixels); unlabeled images get label -1."""
    labels = np.full(len(images), -1) if labels is None else labels
    order = np.random.default_rng(seed).permutation(len(images))
    held = int(len(images) * HELD_OUT_FRACTION)
    return images[order[held:]], labels[order[held:]], images[order[:held]]


def _save_features_model(spec: ImageSpec, features: Callable[[tf.Tensor], tf.Tensor],
                         keep: object, path: str) -> str:
    """A SavedModel by the `saved_model` extractor's contract: 0..255 floats in, one
    `features` output; `keep` holds the variables `features` uses."""
    module = tf.Module()
    module.keep = keep
    module.serve = tf.function(lambda images: {"features": features(images)},
                               input_signature=[tf.TensorSpec([None, *spec.shape], tf.float32)])
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    return path


def save_trained_features_model(extractor: TrainedExtractor, spec: ImageSpec, path: str) -> str:
    """A trained extractor (its features exactly) exported as a user's SavedModel."""
    features = extractor.model.extractor
    return _save_features_model(
        spec, lambda images: features.tf_features(images / 127.5 - 1.0), features.parts, path)


def save_random_features_model(spec: ImageSpec, path: str, seed: int = SEED) -> str:
    """A generic SavedModel feature extractor: a fixed random-init convolutional network
    with global average pooling (64-d), taking 0..255 floats as the `saved_model`
    extractor's contract says."""
    keras.utils.set_random_seed(seed)
    network = keras.Sequential([
        keras.Input(spec.shape), keras.layers.Rescaling(1 / 127.5, offset=-1.0),
        keras.layers.Conv2D(32, 3, padding="same", activation="tanh"),
        keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="tanh"),
        keras.layers.GlobalAveragePooling2D()])
    return _save_features_model(spec, network, network, path)


def extractors_for(kind: str, train: np.ndarray, train_labels: np.ndarray, work_dir: str
                   ) -> dict[str, FeatureExtractor]:
    """Every extractor that applies to `kind`, built by the evaluator's code, uncached."""
    spec = ImageSpec(train.shape[1], train.shape[3])
    built = {}
    if (train_labels >= 0).any():
        built["domain_classifier"] = build_extractor("domain_classifier", "", train,
                                                     train_labels, SEED, None)
    built["self_supervised"] = build_extractor("self_supervised", "", train, train_labels,
                                               SEED, None)
    for name, path in (
            ("saved_model:trained", save_trained_features_model(
                built["self_supervised"], spec, f"{work_dir}/{kind}_trained_features")),
            ("saved_model:random", save_random_features_model(
                spec, f"{work_dir}/{kind}_random_features"))):
        built[name] = build_extractor("saved_model", path, train, train_labels, SEED, None)
    return built


def format_table(results: list[SanityResult]) -> str:
    """One row per (data kind, extractor): the floor, then each degradation in floor units;
    a header per data kind (blur strengths depend on the image size)."""
    rows = []
    for result in results:
        names = list(result.fids)
        if not rows or rows[-1][0] != result.kind:
            rows.append((result.kind, f"{'data':<13}{'extractor':<20}{'images':>7}{'floor':>8}"
                         + "".join(f"{name:>13}" for name in names) + "  ranking"))
        rows.append((result.kind, f"{result.kind:<13}{result.extractor:<20}{result.count:>7}"
                     f"{result.floor:>8.4f}" + "".join(
                         f"{result.in_floor_units(name):>12.1f}x" for name in names)
                     + ("  ok" if result.passed else "  FAILS: " + "; ".join(result.failures))))
    return "\n".join(row for _, row in rows)


def main() -> None:
    results = []
    with tempfile.TemporaryDirectory() as work_dir:
        for kind in datasets.KINDS:
            images, labels = datasets.build(kind, None if kind == "digits" else IMAGE_COUNT,
                                            SAMPLE_SIZE, SEED)
            train, train_labels, held_out = split(images, labels)
            start = time.perf_counter()
            built = extractors_for(kind, train, train_labels, work_dir)
            print(f"{kind}: {len(train)} training / {len(held_out)} held-out images "
                  f"{images.shape[1]}x{images.shape[2]}x{images.shape[3]}; extractors built in "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
            for name, extractor in built.items():
                results.append(measure(kind, name, extractor, train, held_out))
    print("\nFID in units of the real-vs-real floor (training vs held-out images, as many of "
          "each; degradations of the held-out images)")
    print(format_table(results))


if __name__ == "__main__":
    main()
