"""Every settings flag, under each of its spellings, reaches the component that uses it:
parsed from the command line, built into `PipelineConfig`, encoded for the component as
`pipeline.pipeline` encodes it and decoded as the component's executor decodes it. And a
setting given two ways, or one the pipeline sets itself, ends in one line."""
import json

import pytest

from components.ingest.settings import IngestOptions
from components.push.settings import PushSettings
from components.evaluation.gate import EvaluationSettings
from components.validation.schema_rules import DataExpectations
from kubeflow import compile as kubeflow_compile
from modules.images import IMAGE_KEY, ImageSpec
from modules.training.config import TrainerConfig
from pipeline import configs, flags, run_local

# A value other than the default for every setting: (as typed, as it arrives).
NOT_DEFAULT = {
    "image.size": ("16", 16),
    "image.channels": ("3", 3),
    "ingest.input_format": ("tfrecord", "tfrecord"),
    "ingest.image_feature": ("picture", "picture"),
    "ingest.label_feature": ("", ""),
    "ingest.tfds_name": ("mnist:3.0.1", "mnist:3.0.1"),
    "ingest.tfds_splits": ("test", ("test",)),
    "ingest.fit": ("pad", "pad"),
    "ingest.max_pixels": ("1000", 1000),
    "ingest.max_rejected_fraction": ("0.25", 0.25),
    "ingest.train_fraction": ("0.7", 0.7),
    "validation.min_side": ("16", 16),
    "validation.max_side": ("512", 512),
    "training.train_steps": ("40", 40),
    "training.latent_dim": ("32", 32),
    "training.generator_filters": ("16", 16),
    "training.discriminator_filters": ("24", 24),
    "training.batch_size": ("32", 32),
    "training.generator_learning_rate": ("3e-4", 3e-4),
    "training.discriminator_learning_rate": ("5e-5", 5e-5),
    "training.adam_beta_1": ("0.9", 0.9),
    "training.loss": ("hinge", "hinge"),
    "training.gradient_penalty_weight": ("5", 5.0),
    "training.r1_weight": ("0.5", 0.5),
    "training.r1_interval": ("4", 4),
    "training.ema_half_life_images": ("20000", 20000),
    "training.spectral_normalization": ("true", True),
    "training.diff_augment": ("translation,cutout", "translation,cutout"),
    "training.augment_target": ("0.6", 0.6),
    "training.discriminator_steps": ("2", 2),
    "training.seed": ("7", 7),
    "training.log_every_steps": ("50", 50),
    "training.sample_every_steps": ("60", 60),
    "training.sample_grid_size": ("16", 16),
    "training.steps_per_execution": ("5", 5),
    "training.precision": ("mixed_float16", "mixed_float16"),
    "training.jit_compile": ("yes", True),
    "training.checkpoint_every_steps": ("100", 100),
    "training.fid_every_steps": ("0", 0),
    "training.selection_samples": ("200", 200),
    "training.on_non_finite": ("rollback", "rollback"),
    "training.max_rollbacks": ("1", 1),
    "evaluation.gate.max_fid_ratio": ("2.5", 2.5),
    "evaluation.gate.min_recall": ("0.4", 0.4),
    "evaluation.gate.min_precision": ("0.6", 0.6),
    "evaluation.gate.fid_threshold": ("4", 4.0),
    "evaluation.gate.min_inception_score": ("7", 7.0),
    "evaluation.gate.baseline_tolerance": ("0.1", 0.1),
    "evaluation.fid_num_samples": ("300", 300),
    "evaluation.kid_subsets": ("10", 10),
    "evaluation.precision_recall_k": ("5", 5),
    "evaluation.extractor": ("inception", "inception"),
    "evaluation.extractor_path": ("/models/inception.pb", "/models/inception.pb"),
    "evaluation.compressed_precisions": ("float16,int8", ("float16", "int8")),
    "push.keep_versions": ("2", 2),
    "push.compressed_fid_tolerance": ("0.2", 0.2),
}
# Flags some values need beside them to make a valid configuration.
NEEDS = {
    "ingest.input_format": ["--tfds-name", "", "--input-format", "tfrecord"],
    "ingest.tfds_name": ["--input-format", "tfds"],
    "ingest.tfds_splits": ["--input-format", "tfds", "--tfds-name", "mnist"],
    "evaluation.extractor": ["--fid-extractor-path", "/models/inception.pb"],
    "evaluation.extractor_path": ["--fid-extractor", "inception"],
}


def arrived(config: configs.PipelineConfig, stage: str):
    """A stage's settings as its component's executor reads them back, from the parameter
    `pipeline.create_pipeline` gives it."""
    if stage == "image":  # Transform's preprocessing_fn
        return ImageSpec.from_json(config.transform_custom_config()[IMAGE_KEY])
    if stage == "ingest":  # ImageExampleGen: custom_config["options"]
        return IngestOptions.from_json(config.ingest_options().to_json()).settings
    if stage == "validation":  # ConstrainedSchema(expectations=...)
        return DataExpectations.from_json(config.data_expectations().to_json()).sides
    if stage == "training":  # Trainer: custom_config, as TFX serializes it to JSON
        return TrainerConfig.from_custom_config(
            json.loads(json.dumps(config.trainer_custom_config())))
    if stage == "evaluation":  # FidEvaluator(settings=...)
        return EvaluationSettings.from_json(config.evaluation.to_json())
    assert stage == "push"  # GeneratorPusher(settings=...)
    return PushSettings.from_json(config.push.to_json())


def parse(tmp_path, *argv: str) -> configs.PipelineConfig:
    return run_local.parse_args([*argv, "--data-dir", str(tmp_path),
                                 "--output-dir", str(tmp_path / "out")]).config


@pytest.fixture(autouse=True)
def fixed_code_versions(monkeypatch):
    """Hashing the code for every case would only slow the test: the versions are cache
    keys, not settings."""
    monkeypatch.setattr(configs, "code_version", lambda *modules, exclude=(): "version")


def spellings():
    for setting in flags.SETTINGS:
        text, _ = NOT_DEFAULT[setting.path]
        for spelling in setting.spellings:
            yield pytest.param(setting.path, [spelling, text], id=spelling)
        if setting.path.startswith("training."):
            yield pytest.param(setting.path, [flags.TRAINER_OPTION,
                                              f"{setting.field.name}={text}"],
                               id=f"--trainer-option {setting.field.name}")


def test_every_setting_has_a_value_to_try():
    assert set(NOT_DEFAULT) == {setting.path for setting in flags.SETTINGS}
    defaults = configs.PipelineConfig()
    for path, (_, value) in NOT_DEFAULT.items():
        assert flags.value_at(defaults, path) != value, path


@pytest.mark.parametrize("path, argv", spellings())
def test_every_flag_reaches_the_component_that_uses_it(tmp_path, path, argv):
    config = parse(tmp_path, *NEEDS.get(path, []), *argv)
    stage, _, rest = path.partition(".")
    assert flags.value_at(arrived(config, stage), rest) == NOT_DEFAULT[path][1]


def test_the_image_shape_and_the_extractor_reach_every_stage_that_uses_them(tmp_path):
    config = parse(tmp_path, "--image.size", "16", "--channels", "3",
                   "--evaluation.extractor", "inception", "--fid-extractor-path", "/m.pb")
    assert IngestOptions.from_json(config.ingest_options().to_json()).spec == ImageSpec(16, 3)
    assert DataExpectations.from_json(config.data_expectations().to_json()).max_channels == 3
    trainer = arrived(config, "training")
    assert (trainer.image_size, trainer.channels, trainer.fid_extractor) == (16, 3, "inception")


def test_a_repeatable_setting_collects_every_value(tmp_path):
    config = parse(tmp_path, "--input-format", "tfds", "--tfds-name", "mnist",
                   "--tfds-split", "train", "--ingest.tfds-splits", "test")
    assert arrived(config, "ingest").tfds_splits == ("train", "test")


def test_a_trainer_option_sets_what_its_flag_sets(tmp_path):
    assert parse(tmp_path, "--trainer-option", "batch_size=32").training.batch_size == 32
    assert parse(tmp_path, "--batch-size", "32", "--trainer-option",
                 "batch_size=32").training.batch_size == 32


def refusal(capsys, main, *argv: str) -> str:
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("argv, message", [
    (["--batch-size", "64", "--trainer-option", "batch_size=32"],
     "error: --batch-size 64 and --trainer-option batch_size=32 set the same setting "
     "(--training.batch-size) to different values; give it once\n"),
    (["--fid-samples", "300", "--evaluation.fid-num-samples", "200"],
     "error: --fid-samples 300 and --evaluation.fid-num-samples 200 set the same setting "
     "(--evaluation.fid-num-samples) to different values; give it once\n"),
    (["--trainer-option", "image_size=16"],
     "error: --trainer-option image_size=16: image_size is not a Trainer option: every "
     "stage takes it from --image-size\n"),
    (["--trainer-option", "fid_extractor=inception"],
     "error: --trainer-option fid_extractor=inception: fid_extractor is not a Trainer "
     "option: every stage takes it from --fid-extractor\n"),
    (["--batch-size", "many"],
     "error: --batch-size many: batch_size takes a number (int), got 'many'\n"),
    (["--training.jit-compile", "maybe"],
     "error: --training.jit-compile maybe: jit_compile takes true or false, got 'maybe'\n"),
    (["--evaluation.gate.max-fid-ratio", "0.5"],
     "error: --evaluation.gate.max-fid-ratio 0.5: max_fid_ratio (--max-fid-ratio) must be "
     "a number >= 1 (the floor itself is 1.0), got 0.5\n"),
    (["--min-image-side", "64", "--max-image-side", "32"],
     "error: --max-image-side 32: max_side must be at least min_side (64), got 32\n"),
])
def test_a_setting_given_wrong_ends_in_one_line_naming_it(tmp_path, capsys, argv, message):
    err = refusal(capsys, run_local.parse_args,
                  *argv, "--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "out"))
    assert err == message


def test_a_repeated_flag_keeps_its_last_value(tmp_path):
    assert parse(tmp_path, "--batch-size", "16", "--batch-size", "32").training.batch_size == 32


def test_the_kubeflow_compiler_names_the_flag_too(tmp_path, capsys):
    err = refusal(capsys, kubeflow_compile.parse_args,
                  "--output-dir", "gs://bucket/gan", "--data-dir", "gs://bucket/images",
                  "--serving-volume", "serving:/serving", "--image-size", "7")
    assert err == ("error: --image-size 7: image size must be a power of two from 8 to 128, "
                   "got 7\n")
