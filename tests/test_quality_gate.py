"""The gate on real evaluations: generators that must never reach serving (a constant
image, uniform noise, one training image repeated), exported as real generator
SavedModels and scored by the evaluator on real Transform output, are refused on the
digits (domain classifier, self-supervised encoder) and on RGB photo crops
(self-supervised encoder, a `saved_model` extractor); a generator that draws unseen real
images passes the same gate."""
import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import datasets
from benchmarks.gate_calibration import average_pooling_extractor
from components.evaluation import scoring as fid_evaluation
from components.evaluation.gate import EvaluationConfig, EvaluationSettings, GateConfig
from components.evaluation.result import EvaluationResult
from modules.export import export_generator
from modules.keras import keras
from tests.transform_output import write_transform_output

NUM_SAMPLES = 300


def table_generator(images: np.ndarray, latent_dim: int = 8) -> keras.Model:
    """Draws one of `images` (uint8) per latent vector: index = Φ(z₀)·N, so the draw is
    uniform over the table."""
    table = tf.constant(images.astype(np.float32) / 127.5 - 1.0)
    noise = keras.Input((latent_dim,))

    def draw(z):
        uniform = (tf.math.erf(z[:, 0] / math.sqrt(2.0)) + 1.0) / 2.0
        index = tf.minimum(tf.cast(uniform * len(images), tf.int32), len(images) - 1)
        return tf.gather(table, index)

    return keras.Model(noise, keras.layers.Lambda(draw)(noise))


def noise_generator(shape: tuple[int, int, int]) -> keras.Model:
    """Uniform noise pixels: an orthogonal map of a standard normal latent is standard
    normal and independent per pixel, and erf(z/√2) is uniform on [-1, 1]."""
    size = int(np.prod(shape))
    noise = keras.Input((size,))
    mixed = keras.layers.Dense(size, use_bias=False,
                               kernel_initializer=keras.initializers.Orthogonal(seed=0))(noise)
    pixels = keras.layers.Lambda(lambda x: tf.math.erf(x / math.sqrt(2.0)))(mixed)
    return keras.Model(noise, keras.layers.Reshape(shape)(pixels))


def bad_generators(train: np.ndarray) -> dict[str, keras.Model]:
    mean_colour = np.round(train.reshape(-1, train.shape[-1]).mean(axis=0)).astype(np.uint8)
    return {"constant image": table_generator(np.broadcast_to(mean_colour,
                                                              (1,) + train.shape[1:])),
            "uniform noise": noise_generator(train.shape[1:]),
            "one training image repeated": table_generator(train[:1])}


def evaluate_generators(generators: dict[str, keras.Model], transformed, tmp_path,
                        **config) -> dict[str, EvaluationResult]:
    examples_uri, graph_uri = transformed
    results = {}
    for index, (name, generator) in enumerate(generators.items()):
        model_dir = str(tmp_path / f"generator-{index}")
        export_generator(generator, model_dir, {"latent_dim": generator.input_shape[-1]})
        results[name] = fid_evaluation.evaluate(
            examples_uri, graph_uri, model_dir,
            EvaluationConfig(EvaluationSettings(fid_num_samples=NUM_SAMPLES, kid_subsets=10,
                                                **config),
                             cache_dir=str(tmp_path / "fid_cache")),
            str(tmp_path / f"evaluation-{index}"))
    return results


def assert_refused(results: dict[str, EvaluationResult], tmp_path) -> None:
    for index, (name, result) in enumerate(results.items()):
        assert not result.blessed, f"{name} was blessed: {result.reason}"
        assert result.deciding_condition in ("max_fid_ratio", "min_recall", "min_precision")
        with open(tmp_path / f"evaluation-{index}" / fid_evaluation.METRICS_FILE) as source:
            recorded = EvaluationResult.from_json(source.read())
        assert recorded == result and recorded.verdict.startswith("NOT blessed: ")


@pytest.fixture(scope="module")
def digits_transformed(tmp_path_factory):
    # An eval split (every fifth digit) larger than the extractors' feature dimensions.
    return write_transform_output(str(tmp_path_factory.mktemp("digits")), count=DIGITS)


DIGITS = 1000


@pytest.mark.parametrize("extractor", ["auto", "self_supervised"])
def test_bad_generators_are_never_blessed_on_the_digits(digits_transformed, tmp_path,
                                                       extractor):
    from pipeline.bundled_data import digits_as_uint8

    digits = digits_as_uint8()[0][..., None]
    results = evaluate_generators(
        {**bad_generators(digits[1:DIGITS]),
         "unseen real digits": table_generator(digits[DIGITS:])},
        digits_transformed, tmp_path, extractor=extractor)
    good = results.pop("unseen real digits")
    assert good.blessed, good.reason
    assert_refused(results, tmp_path)
    for name in ("constant image", "one training image repeated"):
        assert results[name].recall < GateConfig().min_recall
    if extractor == "self_supervised":
        assert good.extractor.startswith("self_supervised:") and good.inception_score is None
        return
    assert good.extractor.startswith("domain_classifier:") and good.inception_score > 5
    for name in ("constant image", "one training image repeated"):
        assert results[name].inception_score < 1.5  # one class: the score's minimum is 1


@pytest.mark.parametrize("extractor", ["self_supervised", "saved_model"])
def test_bad_generators_are_never_blessed_on_rgb_photos(tmp_path, extractor):
    # An eval split (every fifth image) larger than the self-supervised extractor's 128-d.
    photos = datasets.rgb_photos(800, 16, seed=0)
    transformed = write_transform_output(str(tmp_path / "transform"), len(photos), photos)
    path = (average_pooling_extractor(str(tmp_path / "pooling"), 16, 3)
            if extractor == "saved_model" else "")
    unseen = datasets.rgb_photos(400, 16, seed=1)
    results = evaluate_generators(
        {**bad_generators(photos[1:]), "unseen real photos": table_generator(unseen)},
        transformed, tmp_path, extractor=extractor, extractor_path=path)
    good = results.pop("unseen real photos")
    assert good.blessed, good.reason
    assert good.inception_score is None  # no classes: reported as absent
    assert_refused(results, tmp_path)
    assert json.loads(open(tmp_path / "evaluation-0" / "metrics.json").read())[
        "inception_score"] is None
    assert os.path.getsize(tmp_path / "evaluation-0" / "report.html") > 0
