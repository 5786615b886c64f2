"""FID evaluation: the math against references, extractors, the cache, the baseline, the report."""
import dataclasses
import http.server
import io
import json
import math
import os
import tarfile
import threading

import numpy as np
import pytest
import tensorflow as tf
from scipy import linalg

from components.evaluation import extractors
from components.evaluation import report as evaluation_report
from components.evaluation import scoring as fid_evaluation
from components.evaluation.gate import (Baseline, EvaluationConfig, EvaluationSettings,
                                        GateConfig, Measurements, decide)
from components.evaluation.result import Comparison, EvaluationResult
from components.push import serving_folder as push
from tests.evaluation_records import NOTHING_SERVED, recorded_result
from modules.export import export_generator
from modules.images import ImageSpec
from modules.quality import domain_classifier, metrics
from modules.quality.fid_cache import FidCache, pixels_fingerprint
from modules.training.config import NetworkConfig
from modules.training.networks import build_generator
from tests.test_metrics import reference_fid


def pytorch_fid_style(x, y, eps=1e-6):
    """The pytorch-fid/TTUR computation, written out plainly."""
    mu1, mu2 = np.mean(x, axis=0), np.mean(y, axis=0)
    sigma1, sigma2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        assert np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3)
        covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def expected_fid(x, y):
    """pytorch-fid's number; where it refuses (a non-negligible imaginary part of the square
    root, which depends on the SciPy version), the symmetric form's."""
    try:
        return pytorch_fid_style(x, y)
    except AssertionError:
        return reference_fid(x, y)


def low_rank_features(rank, noise):
    rng = np.random.default_rng(rank)
    basis = rng.standard_normal((rank, 64))
    x = rng.standard_normal((300, rank)) @ basis + noise * rng.standard_normal((300, 64))
    y = ((rng.standard_normal((250, rank)) * 1.3 + 0.2) @ basis
         + noise * rng.standard_normal((250, 64)))
    return x, y


@pytest.mark.parametrize("rank,noise", [(64, 0.0), (40, 1e-7), (8, 1e-7), (8, 1e-4)])
def test_fid_matches_pytorch_fid_style_including_near_singular_covariances(rank, noise):
    x, y = low_rank_features(rank, noise)
    if rank < 64:
        assert np.linalg.cond(np.cov(x, rowvar=False)) > 1e10  # near-singular
    assert metrics.fid(x, y) == pytest.approx(expected_fid(x, y), rel=1e-6)


def test_fid_agrees_with_the_reference_on_a_degenerate_square_root():
    """Rank 8 of 64 with tiny noise: SciPy 1.12 finds a complex square root (pytorch-fid
    refuses; we take the symmetric form), newer SciPy a real one (the same number)."""
    x, y = low_rank_features(8, 1e-5)
    assert metrics.fid(x, y) == pytest.approx(expected_fid(x, y), rel=1e-6)


def test_fid_of_a_collapsed_set_is_finite_and_exact():
    """Sixteen distinct feature vectors repeated (a mode-collapsed generator): a covariance of
    rank 15 of 64, whose product square root has a large imaginary part."""
    rng = np.random.default_rng(3)
    real = rng.standard_normal((400, 64)) @ rng.standard_normal((64, 64))
    collapsed = (rng.standard_normal((16, 64)) * 2)[np.arange(400) % 16]
    assert metrics.fid(real, collapsed) == pytest.approx(reference_fid(real, collapsed),
                                                         rel=1e-6)


def brute_force_precision_recall(real, fake, k):
    def radii(points):
        d = np.linalg.norm(points[:, None] - points[None], axis=-1)
        return np.sort(d, axis=1)[:, k]

    def inside(manifold, r, probes):
        d = np.linalg.norm(probes[:, None] - manifold[None], axis=-1)
        return np.mean(np.any(d <= r[None], axis=1))

    return inside(real, radii(real), fake), inside(fake, radii(fake), real)


def test_precision_recall_matches_brute_force_and_exposes_mode_collapse():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((120, 5))
    fake = rng.standard_normal((90, 5)) * 1.5 + 0.5
    result = metrics.precision_recall(real, fake, k=3, batch=7)
    assert (result.precision, result.recall) == pytest.approx(
        brute_force_precision_recall(real, fake, 3))
    collapsed = real[0] + 0.01 * rng.standard_normal((90, 5))
    collapse = metrics.precision_recall(real, collapsed, k=3)
    assert collapse.precision == 1.0 and collapse.recall < 0.1


GOOD = Measurements(fid=1.0, fid_refusal=None, fid_real_floor=0.5, precision=0.8, recall=0.6)


@pytest.mark.parametrize("measured,baseline,gate,blessed,deciding,phrase", [
    (GOOD, NOTHING_SERVED, GateConfig(), True, "all", "FID is 2.0x the real-vs-real floor"),
    (dataclasses.replace(GOOD, fid=19.75), NOTHING_SERVED, GateConfig(), False, "max_fid_ratio",
     "FID is 39.5x the real-vs-real floor (limit 3.0x)"),
    (dataclasses.replace(GOOD, recall=0.0), NOTHING_SERVED, GateConfig(), False, "min_recall",
     "recall 0.000 is below the minimum"),
    (dataclasses.replace(GOOD, precision=0.01), NOTHING_SERVED, GateConfig(), False,
     "min_precision", "precision 0.010 is below the minimum"),
    (GOOD, NOTHING_SERVED, GateConfig(fid_threshold=0.9), False, "fid_threshold",
     "FID 1.000 is above the limit 0.9"),
    (GOOD, NOTHING_SERVED, GateConfig(min_inception_score=2.0), False, "min_inception_score",
     "Inception Score could not be computed"),
    (dataclasses.replace(GOOD, inception_score=8.0), NOTHING_SERVED,
     GateConfig(min_inception_score=2.0), True, "all", "Inception Score 8.000"),
    (GOOD, Baseline(7, 0.9, "recorded"), GateConfig(), False, "baseline",
     "worse than the served version 7"),
    (GOOD, Baseline(7, 0.96, "recorded"), GateConfig(baseline_tolerance=0.05), True, "all",
     "tolerance 0.05"),
    (GOOD, Baseline(7, math.nan, "re-scored"), GateConfig(), True, "all", "no finite FID"),
    (dataclasses.replace(GOOD, fid=None, fid_refusal="FID needs more samples"), NOTHING_SERVED,
     GateConfig(), False, "max_fid_ratio", "could not be computed in floor units: FID needs"),
    (dataclasses.replace(GOOD, fid_real_floor=None), NOTHING_SERVED, GateConfig(), False,
     "max_fid_ratio", "floor is not available"),
    (dataclasses.replace(GOOD, precision=None, recall=None), NOTHING_SERVED, GateConfig(),
     False, "min_recall", "recall could not be computed"),
], ids=["good", "fid-ratio", "collapse", "noise", "threshold", "is-missing", "is-met",
        "worse-than-served", "within-tolerance", "served-nan", "fid-refused", "no-floor",
        "no-precision-recall"])
def test_blessing_decisions(measured, baseline, gate, blessed, deciding, phrase):
    decision = decide(measured, gate, baseline)
    assert (decision.blessed, decision.deciding) == (blessed, deciding)
    assert phrase in decision.reason


def test_the_reason_names_every_failing_condition():
    decision = decide(dataclasses.replace(GOOD, fid=10.0, recall=0.0), GateConfig(),
                      NOTHING_SERVED)
    assert decision.deciding == "max_fid_ratio"
    assert "20.0x the real-vs-real floor" in decision.reason and "recall" in decision.reason
    assert [check.condition for check in decision.checks if not check.passed] == [
        "max_fid_ratio", "min_recall"]


@pytest.mark.parametrize("settings,flag", [
    ({"max_fid_ratio": 0.5}, "--max-fid-ratio"), ({"max_fid_ratio": math.nan}, "--max-fid-ratio"),
    ({"min_recall": 1.5}, "--min-recall"), ({"min_precision": -0.1}, "--min-precision"),
    ({"fid_threshold": 0.0}, "--fid-threshold"), ({"fid_threshold": math.inf}, "--fid-threshold"),
    ({"min_inception_score": 0.5}, "--min-inception-score"),
    ({"baseline_tolerance": -1.0}, "--fid-tolerance"),
])
def test_gate_settings_are_validated_naming_the_flag(settings, flag):
    with pytest.raises(ValueError, match=flag):
        GateConfig(**settings)


def test_gate_config_round_trips_through_json():
    gate = GateConfig(max_fid_ratio=2.5, fid_threshold=4.0, min_inception_score=3.0)
    assert GateConfig.from_json(gate.to_json()) == gate


def test_classifier_score_matches_the_inception_score_formula_on_known_probabilities():
    """Against exp(E_x KL(p(y|x) || p(y))) written out on the probabilities, and the
    score's known values: K for confident, balanced classes; 1 for one class."""
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((200, 10)) * 3.0
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    marginal = p.mean(axis=0)
    expected = math.exp(np.mean([sum(p_i[j] * math.log(p_i[j] / marginal[j])
                                     for j in range(10)) for p_i in p]))
    assert metrics.classifier_score(logits) == pytest.approx(expected, rel=1e-10)
    confident = np.repeat(np.eye(10) * 50.0, 20, axis=0)
    assert metrics.classifier_score(confident) == pytest.approx(10.0, rel=1e-6)
    assert metrics.classifier_score(np.tile([[60.0, 0.0, 0.0]], (30, 1))) == pytest.approx(1.0)
    assert math.isfinite(metrics.classifier_score(np.tile([[1000.0, 0.0]], (5, 1))))


def test_auto_extractor_follows_the_labels():
    assert metrics.resolve_extractor("auto", 10) == "domain_classifier"
    assert metrics.resolve_extractor("auto", 1) == "self_supervised"
    assert metrics.resolve_extractor("auto", 0) == "self_supervised"
    assert metrics.resolve_extractor("saved_model", 10) == "saved_model"
    assert metrics.count_classes(np.array([3, 3, -1, 5])) == 2


class PixelExtractor(extractors.FeatureExtractor):
    """Raw pixels as features (8x8x1 -> 64-d); counts its calls."""

    identity = "pixels"

    def __init__(self):
        self.calls = 0

    def features(self, pixels):
        self.calls += 1
        return pixels.reshape(len(pixels), -1).astype(np.float64)


def test_real_features_are_cached_by_extractor_and_image_set(tmp_path):
    cache = FidCache(str(tmp_path / "cache"))
    extractor = PixelExtractor()
    pixels = np.random.default_rng(0).integers(0, 255, (20, 8, 8, 1), dtype=np.uint8)
    first = fid_evaluation.cached_features(extractor, pixels, pixels_fingerprint(pixels), cache)
    reordered = pixels[::-1].copy()
    assert pixels_fingerprint(reordered) == pixels_fingerprint(pixels)
    again = fid_evaluation.cached_features(extractor, reordered[::-1],
                                           pixels_fingerprint(reordered), cache)
    assert extractor.calls == 1
    np.testing.assert_array_equal(first, again)
    fid_evaluation.cached_features(extractor, pixels[:10], pixels_fingerprint(pixels[:10]), cache)
    assert extractor.calls == 2


def test_domain_classifier_is_trained_once_then_loaded(tmp_path, monkeypatch):
    from pipeline.bundled_data import digits_as_uint8

    pixels, labels = digits_as_uint8()
    pixels, labels = pixels[:300, :, :, None], labels[:300]
    cache = FidCache(str(tmp_path / "cache"))
    trained = extractors.trained_extractor("domain_classifier", pixels, labels, seed=0,
                                        cache=cache)

    def must_not_train(*args, **kwargs):
        raise AssertionError("the classifier should come from the cache")

    monkeypatch.setattr(domain_classifier, "train_domain_classifier", must_not_train)
    loaded = extractors.trained_extractor("domain_classifier", pixels, labels, seed=0,
                                       cache=cache)
    assert loaded.identity == trained.identity
    np.testing.assert_allclose(loaded.features(pixels[:30]), trained.features(pixels[:30]),
                               atol=1e-6)


def fake_inception_graph(path):
    """A GraphDef with the Inception FID graph's interface: ExpandDims -> resize -> pool_3."""
    graph = tf.Graph()
    with graph.as_default():
        decoded = tf.compat.v1.placeholder(tf.float32, [None, None, 3], name="DecodeJpeg")
        expanded = tf.expand_dims(decoded, 0, name="ExpandDims")
        resized = tf.compat.v1.image.resize_bilinear(expanded, [29, 29])
        kernel = tf.constant(np.random.default_rng(0).standard_normal((3, 3, 3, 16)), tf.float32)
        conv = tf.nn.conv2d(resized / 255.0, kernel, 1, "SAME")
        tf.reduce_mean(conv, axis=[1, 2], keepdims=True, name="pool_3")
    with open(path, "wb") as out:
        out.write(graph.as_graph_def().SerializeToString())
    return path


def test_inception_extractor_reads_the_graph_from_a_path_an_archive_or_a_url(tmp_path):
    graph_path = fake_inception_graph(str(tmp_path / extractors.INCEPTION_GRAPH_FILE))
    archive = tmp_path / "inception-2015-12-05.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(graph_path, arcname=extractors.INCEPTION_GRAPH_FILE)
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{extractors.INCEPTION_GRAPH_FILE}"
        found = [extractors.InceptionExtractor(source, batch_size=3)
                 for source in (graph_path, str(archive), url)]
    finally:
        server.shutdown()
    gray = np.random.default_rng(1).integers(0, 255, (7, 8, 8, 1), dtype=np.uint8)
    features = [extractor.features(gray) for extractor in found]
    assert features[0].shape == (7, 16)
    np.testing.assert_allclose(features[0], features[1])
    np.testing.assert_allclose(features[0], features[2])
    assert len({extractor.identity for extractor in found}) == 1
    rgb = np.repeat(gray, 3, axis=-1)
    np.testing.assert_allclose(found[0].features(rgb), features[0])


@pytest.mark.parametrize("source,phrase", [
    ("", "needs fid_extractor_path"),
    ("/nonexistent/classify_image_graph_def.pb", "cannot read the Inception-v3 FID weights"),
    ("http://127.0.0.1:9/inception.pb", "cannot read the Inception-v3 FID weights"),
])
def test_missing_inception_weights_give_an_error_naming_the_setting(source, phrase):
    with pytest.raises(extractors.ExtractorError, match=phrase) as error:
        extractors.InceptionExtractor(source)
    assert "fid_extractor_path" in str(error.value)


def test_saved_model_extractor_follows_its_contract(tmp_path):
    class Extractor(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32)])
        def serve(self, images):
            return {"embedding": tf.reduce_mean(images, axis=[1, 2]) / 255.0}

    module = Extractor()
    tf.saved_model.save(module, str(tmp_path / "extractor"),
                        signatures={"serving_default": module.serve})
    extractor = extractors.build_extractor("saved_model", str(tmp_path / "extractor"),
                                           None, None, 0, None)
    pixels = np.full((3, 8, 8, 1), 51, np.uint8)
    np.testing.assert_allclose(extractor.features(pixels), np.full((3, 1), 0.2), rtol=1e-6)
    with pytest.raises(extractors.ExtractorError, match="fid_extractor_path"):
        extractors.build_extractor("saved_model", str(tmp_path / "missing"), None, None, 0, None)


@pytest.fixture
def served(tmp_path):
    """A serving folder holding one pushed generator."""
    generator = build_generator(ImageSpec(8, 1), NetworkConfig(latent_dim=8, generator_filters=4))
    export_generator(generator, str(tmp_path / "model"), {"latent_dim": 8})
    return str(tmp_path / "model"), str(tmp_path / "serving")


def test_baseline_uses_recorded_metrics_only_when_comparable(served):
    model_dir, serving_dir = served
    config = EvaluationConfig(EvaluationSettings(fid_num_samples=80), serving_dir=serving_dir)
    extractor = PixelExtractor()
    real = extractor.features(np.random.default_rng(0).integers(0, 255, (100, 8, 8, 1)))
    comparison = Comparison(extractor="pixels", real_images="abc", num_samples=80, seed=0)

    nothing = fid_evaluation.served_baseline(config, comparison, extractor, real, 80)
    assert (nothing.version, nothing.fid) == (None, None)

    version = push.push(model_dir, serving_dir,
                        {"fid": 12.5, "comparison": dataclasses.asdict(comparison)}).version
    recorded = fid_evaluation.served_baseline(config, comparison, extractor, real, 80)
    assert (recorded.version, recorded.fid) == (version, 12.5) and extractor.calls == 1

    other = dataclasses.replace(comparison, real_images="new data")
    rescored = fid_evaluation.served_baseline(config, other, extractor, real, 80)
    served_pixels = fid_evaluation.generate(os.path.join(serving_dir, str(version)), 80, 0)
    assert rescored.version == version and "re-scored" in rescored.source
    assert rescored.fid == pytest.approx(metrics.fid(real, extractor.features(served_pixels)))


def test_compressed_copies_are_scored_like_the_model(served, tmp_path):
    model_dir, _ = served
    config = EvaluationConfig(EvaluationSettings(fid_num_samples=80,
                                                 compressed_precisions=("float16", "int8")))
    extractor = PixelExtractor()
    real = extractor.features(np.random.default_rng(0).integers(0, 255, (100, 8, 8, 1)))
    scored = fid_evaluation.score_compressed(model_dir, str(tmp_path / "evaluation"), config,
                                             80, extractor, real)
    original = metrics.fid(real, extractor.features(fid_evaluation.generate(model_dir, 80, 0)))
    assert set(scored) == {"float16", "int8"}
    for precision, result in scored.items():
        assert result.fid == pytest.approx(original, rel=0.05), precision
        assert result.fid_refusal is None
        assert os.path.isfile(os.path.join(result.path, "saved_model.pb"))
    with pytest.raises(ValueError, match="unknown compressed precision"):
        EvaluationSettings(compressed_precisions=("int4",))


def test_the_evaluation_record_round_trips_and_refuses_nan():
    result = recorded_result()
    assert EvaluationResult.from_json(result.to_json()) == result
    assert result.verdict.startswith("NOT blessed: FID is 39.5x the real-vs-real floor")
    assert any("[decided by max_fid_ratio]" in line for line in result.summary_lines())
    missing = recorded_result(fid=None, fid_refusal="too few samples")
    assert json.loads(missing.to_json())["fid"] is None
    assert any("not available (too few samples)" in line for line in missing.summary_lines())
    with pytest.raises(ValueError, match="record it as None"):
        dataclasses.replace(result, kid_mean=math.nan)


def test_report_is_self_contained_and_finds_copied_training_images():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 255, (50, 8, 8, 1), dtype=np.uint8)
    generated = np.concatenate([train[[4, 9]], rng.integers(0, 255, (6, 8, 8, 1), np.uint8)])
    indices, distances = evaluation_report.nearest_training_neighbours(generated, train)
    assert list(indices[:2, 0]) == [4, 9] and np.all(distances[:2, 0] == 0)
    page = evaluation_report.render(recorded_result(), train[:16], generated, train)
    assert "NOT BLESSED" in page and "FID is 39.5x the real-vs-real floor (limit 3.0x)" in page
    assert "Decided by <code>max_fid_ratio</code>" in page and "<b>FAILED</b>" in page
    assert page.count("data:image/png;base64,") == 2 + 8 * 4
    assert "http" not in page.replace("http-equiv", "")


def test_fid_is_refused_with_the_reason_when_samples_do_not_exceed_dimensions():
    rng = np.random.default_rng(0)
    config = EvaluationConfig(EvaluationSettings(kid_subsets=10))
    scores = fid_evaluation.score(rng.standard_normal((60, 64)), rng.standard_normal((200, 64)),
                                  config)
    assert scores.fid is None
    assert "more samples than the 64 feature dimensions" in scores.fid_refusal
    assert math.isfinite(scores.kid.mean) and scores.precision_recall is not None
    measured = Measurements(scores.fid, scores.fid_refusal, 0.5, 0.9, 0.9)
    decision = decide(measured, GateConfig(), NOTHING_SERVED)
    assert not decision.blessed and "more samples than the 64" in decision.reason
