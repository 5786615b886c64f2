"""The local runner with a TFDS source: its flags become the ingest options, and an
unprepared dataset stops it before the pipeline starts."""
import pytest

from components.ingest_config import IngestOptions
from pipeline import run_local


def test_tfds_flags_become_the_ingest_options(tmp_path):
    config, _ = run_local.parse_args([
        "--input-format", "tfds", "--tfds-name", "mnist:3.0.1", "--tfds-split", "train",
        "--tfds-split", "test", "--image-feature", "picture", "--label-feature", "",
        "--data-dir", str(tmp_path / "tfds"), "--output-dir", str(tmp_path / "out")])
    assert config.data_dir == str(tmp_path / "tfds")
    options = config.ingest_options()
    assert options == IngestOptions(options.settings, input_format="tfds",
                                    tfds_name="mnist:3.0.1", tfds_splits=("train", "test"),
                                    image_feature="picture", label_feature="")
    assert IngestOptions.from_dict(options.to_dict()) == options


def test_without_a_data_dir_a_tfds_dataset_is_looked_for_where_tfds_keeps_them(
        tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    config, _ = run_local.parse_args(["--input-format", "tfds", "--tfds-name", "mnist",
                                      "--output-dir", str(tmp_path / "out")])
    assert config.data_dir == str(tmp_path / "tfds")
    assert config.ingest_options().tfds_splits == ()


def test_a_tfds_name_needs_the_tfds_input_format(tmp_path):
    with pytest.raises(ValueError, match="a TFDS dataset name goes with input_format 'tfds'"):
        run_local.parse_args(["--tfds-name", "mnist", "--data-dir", str(tmp_path)])


def test_a_tfds_dataset_that_is_not_prepared_stops_the_run_with_one_message(tmp_path):
    with pytest.raises(SystemExit, match=r"^error: TFDS dataset 'mnist' is not prepared in "
                                         r".*, and ingest never downloads\. .*"
                                         r"`tfds build mnist --data_dir DIR`") as stop:
        run_local.main(["--input-format", "tfds", "--tfds-name", "mnist",
                        "--data-dir", str(tmp_path / "tfds"), "--output-dir", str(tmp_path)])
    assert stop.value.__context__ is None or stop.value.__suppress_context__
    assert not (tmp_path / "metadata.sqlite").exists()  # stopped before the pipeline started


def test_compressed_copies_are_off_by_default_and_one_flag_turns_them_on(tmp_path):
    out = ["--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "out")]
    default, _ = run_local.parse_args(out)
    assert default.compressed_precisions == ()
    config, _ = run_local.parse_args(out + ["--compressed-precisions", "float16,int8",
                                            "--compressed-fid-tolerance", "0.1"])
    assert config.compressed_precisions == ("float16", "int8")
    assert config.compressed_fid_tolerance == 0.1
    with pytest.raises(ValueError, match=r"compressed_precisions \(--compressed-precisions\) must be among .*'int4'"):
        run_local.parse_args(out + ["--compressed-precisions", "int4"])
