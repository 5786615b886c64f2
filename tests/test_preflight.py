"""A run whose generator could not be evaluated is refused before anything is trained,
with one message naming the flag; the gate's flags reach the pipeline's settings."""
import pytest
import tensorflow as tf

from benchmarks import datasets
from components.evaluation.gate import GateConfig
from modules.quality.metrics import UNLABELED_EXTRACTOR
from pipeline import preflight, run_local
from pipeline.bundled_data import digits_as_uint8


def config_for(tmp_path, data_dir, *flags):
    return run_local.parse_args(["--data-dir", str(data_dir),
                                 "--output-dir", str(tmp_path / "out"), *flags]).config


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory):
    pixels, labels = digits_as_uint8()
    return datasets.write_folder(pixels[:900, :, :, None], tmp_path_factory.mktemp("digits"),
                                 labels[:900])


@pytest.fixture(scope="module")
def flat_folder(tmp_path_factory):
    return datasets.write_folder(datasets.rgb_photos(200, 16), tmp_path_factory.mktemp("flat"))


def saved_model(path, shape):
    class Extractor(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, *shape], tf.float32)])
        def serve(self, images):
            return {"features": tf.reduce_mean(images, axis=[1, 2])}

    module = Extractor()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return str(path)


def test_labeled_digits_pass_and_resolve_auto_to_the_domain_classifier(tmp_path, digits_folder):
    facts = preflight.folder_facts(str(digits_folder), 0.8)
    assert (facts.classes, facts.files) == (10, 900) and 140 < facts.eval_files < 220
    assert preflight.check(config_for(tmp_path, digits_folder)) == "domain_classifier"


@pytest.mark.parametrize("classes", [0, 1])
def test_the_domain_classifier_on_unlabeled_or_one_class_data_is_refused(tmp_path, classes):
    images = datasets.rgb_photos(100, 16)
    folder = datasets.write_folder(images, tmp_path / "data",
                                   [0] * len(images) if classes else None)
    with pytest.raises(preflight.PreflightError,
                       match=rf"^--fid-extractor domain_classifier needs labeled images of at "
                             rf"least two classes .* has {classes} class subfolders"):
        preflight.check(config_for(tmp_path, folder, "--fid-extractor", "domain_classifier",
                                   "--image-size", "16", "--channels", "3"))


def test_auto_on_unlabeled_data_is_the_self_supervised_extractor_and_its_eval_split_is_checked(
        tmp_path, flat_folder):
    flags = ("--image-size", "16", "--channels", "3")
    # 200 images: about 40 go to the eval split, too few for 128-d features at 16 px.
    with pytest.raises(preflight.PreflightError,
                       match=r"^--train-fraction 0.8: the eval split .* self_supervised "
                             r"extractor \(128-d features\) needs more than 128"):
        preflight.check(config_for(tmp_path, flat_folder, *flags))
    assert preflight.check(config_for(tmp_path, flat_folder, *flags, "--train-fraction",
                                      "0.2")) == UNLABELED_EXTRACTOR


def test_an_extractor_model_that_is_missing_or_cannot_take_the_images_is_refused(
        tmp_path, flat_folder):
    base = ["--image-size", "16", "--channels", "3", "--fid-extractor", "saved_model"]
    with pytest.raises(preflight.PreflightError, match=r"^--fid-extractor-path: cannot load"):
        preflight.check(config_for(tmp_path, flat_folder, *base, "--fid-extractor-path",
                                   str(tmp_path / "missing")))
    gray_8 = saved_model(tmp_path / "gray8", (8, 8, 1))
    with pytest.raises(preflight.PreflightError,
                       match=r"^--fid-extractor-path: the saved_model extractor at .* cannot "
                             r"take 16x16x3 images \(--image-size, --channels\)"):
        preflight.check(config_for(tmp_path, flat_folder, *base, "--fid-extractor-path",
                                   gray_8))
    rgb_16 = saved_model(tmp_path / "rgb16", (16, 16, 3))
    assert preflight.check(config_for(tmp_path, flat_folder, *base, "--fid-extractor-path",
                                      rgb_16)) == "saved_model"


def test_an_eval_split_too_small_for_fid_is_refused(tmp_path):
    pixels, labels = digits_as_uint8()
    folder = datasets.write_folder(pixels[:47, :, :, None], tmp_path / "small", labels[:47])
    with pytest.raises(preflight.PreflightError,
                       match=r"^--train-fraction 0.8: the eval split of .* gets at most \d+ of "
                             r"its 47 images, and FID with the domain_classifier extractor "
                             r"\(128-d features\) needs more than 128"):
        preflight.check(config_for(tmp_path, folder))


def test_too_few_fid_samples_for_the_feature_dimension_are_refused(tmp_path, digits_folder):
    with pytest.raises(preflight.PreflightError, match=r"^--fid-samples 50: FID needs more "
                                                       r"samples than the 128 feature"):
        preflight.check(config_for(tmp_path, digits_folder, "--fid-samples", "50"))


def test_the_gate_flags_become_the_gate_settings(tmp_path, digits_folder, capsys):
    config = config_for(tmp_path, digits_folder, "--max-fid-ratio", "2.5", "--min-recall",
                        "0.4", "--min-precision", "0.6", "--fid-threshold", "4",
                        "--min-inception-score", "7", "--fid-tolerance", "0.1")
    assert config.evaluation.gate == GateConfig(
        max_fid_ratio=2.5, min_recall=0.4, min_precision=0.6, fid_threshold=4.0,
        min_inception_score=7.0, baseline_tolerance=0.1)
    assert config_for(tmp_path, digits_folder).evaluation.gate == GateConfig()
    with pytest.raises(SystemExit):
        config_for(tmp_path, digits_folder, "--max-fid-ratio", "0.5")
    assert capsys.readouterr().err.startswith(
        "error: --max-fid-ratio 0.5: max_fid_ratio (--max-fid-ratio) must be")
