"""The local runner's flags for a TFDS source become the ingest options ExampleGen gets."""
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
