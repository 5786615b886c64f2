"""The local runner's flags: a TFDS source's flags become the ingest options, an
unprepared dataset stops it before the pipeline starts, and every bad setting ends in
one line naming the flag as the user typed it."""
import os
import re

import pytest

from components.ingest.settings import IngestOptions, IngestSettings
from pipeline import run_local


def test_tfds_flags_become_the_ingest_options(tmp_path):
    config = run_local.parse_args([
        "--input-format", "tfds", "--tfds-name", "mnist:3.0.1", "--tfds-split", "train",
        "--tfds-split", "test", "--image-feature", "picture", "--label-feature", "",
        "--data-dir", str(tmp_path / "tfds"), "--output-dir", str(tmp_path / "out")]).config
    assert config.data_dir == str(tmp_path / "tfds")
    options = config.ingest_options()
    assert options == IngestOptions(options.spec, IngestSettings(
        input_format="tfds", tfds_name="mnist:3.0.1", tfds_splits=("train", "test"),
        image_feature="picture", label_feature=""), report_dir=str(tmp_path / "out" / "reports"))
    assert IngestOptions.from_json(options.to_json()) == options


def test_without_a_data_dir_a_tfds_dataset_is_looked_for_where_tfds_keeps_them(
        tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    config = run_local.parse_args(["--input-format", "tfds", "--tfds-name", "mnist",
                                   "--output-dir", str(tmp_path / "out")]).config
    assert config.data_dir == str(tmp_path / "tfds")
    assert config.ingest_options().settings.tfds_splits == ()


def test_a_tfds_name_needs_the_tfds_input_format(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        run_local.parse_args(["--tfds-name", "mnist", "--data-dir", str(tmp_path)])
    assert stop.value.code == 2
    assert "a TFDS dataset name goes with input_format 'tfds'" in capsys.readouterr().err


def test_a_tfds_dataset_that_is_not_prepared_stops_the_run_with_one_message(tmp_path):
    with pytest.raises(SystemExit, match=r"^error: TFDS dataset 'mnist' is not prepared in "
                                         r".*, and ingest never downloads\. .*"
                                         r"`tfds build mnist --data_dir DIR`") as stop:
        run_local.main(["--input-format", "tfds", "--tfds-name", "mnist",
                        "--data-dir", str(tmp_path / "tfds"), "--output-dir", str(tmp_path)])
    assert stop.value.__context__ is None or stop.value.__suppress_context__
    assert not (tmp_path / "metadata.sqlite").exists()  # stopped before the pipeline started


def test_compressed_copies_are_off_by_default_and_one_flag_turns_them_on(tmp_path, capsys):
    out = ["--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "out")]
    assert run_local.parse_args(out).config.evaluation.compressed_precisions == ()
    config = run_local.parse_args(out + ["--compressed-precisions", "float16,int8",
                                         "--compressed-fid-tolerance", "0.1"]).config
    assert config.evaluation.compressed_precisions == ("float16", "int8")
    assert config.push.compressed_fid_tolerance == 0.1
    with pytest.raises(SystemExit):
        run_local.parse_args(out + ["--compressed-precisions", "int4"])
    assert re.match(r"error: --compressed-precisions int4: compressed_precisions "
                    r"\(--compressed-precisions\) must be among .*'int4'", capsys.readouterr().err)


@pytest.mark.parametrize("flags, message", [
    (["--image-size", "7"],
     "error: --image-size 7: image size must be a power of two from 8 to 128, got 7"),
    (["--train-steps", "0"], "error: --train-steps 0: train_steps must be at least 1, got 0"),
    (["--batch-size", "0"], "error: --batch-size 0: batch_size must be at least 1, got 0"),
    (["--trainer-option", "loss=unknown"],
     "error: --trainer-option loss=unknown: unknown GAN loss 'unknown'; choose one of "),
    (["--trainer-option", "ema_half_life_images=abc"],
     "error: --trainer-option ema_half_life_images=abc: ema_half_life_images takes a number "
     "(int), got 'abc'"),
    (["--trainer-option", "colour=red"],
     "error: --trainer-option colour=red: unknown Trainer setting 'colour'"),
    (["--max-rejected-fraction", "2"], "error: --max-rejected-fraction 2.0: "
                                       "max_rejected_fraction must be between 0 and 1"),
    (["--fid-samples", "1"], "error: --fid-samples 1: fid_num_samples must be at least 2"),
    (["--data-dir", "/no/such/folder"],
     "error: --data-dir /no/such/folder: the folder does not exist"),
])
def test_a_bad_setting_exits_with_one_line_naming_the_flag(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as stop:
        run_local.main(flags + ["--output-dir", str(tmp_path)])
    assert stop.value.code == 2  # as argparse's own errors
    captured = capsys.readouterr()
    assert captured.err.startswith(message) and captured.err.count("\n") == 1, captured.err
    assert captured.out == ""
    assert os.listdir(tmp_path) == []  # stopped before the pipeline (or its log) started


def test_verbose_comes_from_the_flag_or_the_environment(tmp_path, monkeypatch):
    output = ["--output-dir", str(tmp_path)]
    assert not run_local.parse_args(output).verbose
    assert run_local.parse_args(output + ["--verbose"]).verbose
    monkeypatch.setenv("GAN_PIPELINE_VERBOSE", "1")
    assert run_local.parse_args(output).verbose
