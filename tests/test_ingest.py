"""The real ExampleGen executor on a messy folder: exact counts and reasons, bounds, sources."""
import dataclasses
import io
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from components.ingest.settings import IngestOptions, IngestSettings
from tests.image_files import CORPUS_MAX_PIXELS, encode, noise, write_corpus
from modules import features
from modules.images import ImageSpec

IN_PROCESS = ("--runner=FnApiRunner",)
MULTI_PROCESS = ("--direct_running_mode=multi_processing", "--direct_num_workers=2")
CORPUS_OPTIONS = IngestOptions(ImageSpec(8, 3), IngestSettings(
    max_pixels=CORPUS_MAX_PIXELS, max_rejected_fraction=0.5, train_fraction=0.5))


def run_example_gen(input_base, output_uri, options, beam_args=IN_PROCESS):
    """The real executor; returns its Examples artifact and the report it wrote (even on failure)."""
    from components.ingest.component import run_ingest

    report_path = os.path.join(output_uri, "ingestion_report.json")
    try:
        examples = run_ingest(str(input_base), str(output_uri), options, beam_args)
    finally:
        report = json.load(open(report_path)) if os.path.exists(report_path) else None
    return examples, report


def read_examples(uri):
    found = {}
    for split in ("train", "eval"):
        files = tf.io.gfile.glob(f"{uri}/Split-{split}/*")
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
            example = tf.train.Example.FromString(record.numpy())
            values = {name: (value.bytes_list.value or value.int64_list.value)[0]
                      for name, value in example.features.feature.items()}
            found[values[features.PATH].decode()] = dict(values, split=split)
    return found


def rejections_of(report):
    return {entry["path"]: entry["reason"] for entry in report["rejections"]}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    accepted, refused = write_corpus(root / "images")
    examples, report = run_example_gen(root / "images", root / "in_process", CORPUS_OPTIONS)
    return root, accepted, refused, examples, report


def test_every_file_is_written_or_rejected_with_its_reason(corpus):
    _, accepted, refused, examples, report = corpus
    assert report["inputs_seen"] == len(accepted) + len(refused) == 27
    assert rejections_of(report) == refused
    assert report["rejected_by_reason"] == {
        "empty file": 1, "truncated or corrupt": 2, "not an image": 2,
        "unsupported format": 1, "too many pixels": 2, "unreadable": 1}
    assert report["rejected"] == 9 and report["rejected_fraction"] == pytest.approx(9 / 27)
    written = report["examples_written"]
    assert set(written) == {"train", "eval"} and all(written.values())
    assert sum(written.values()) == len(accepted)

    found = read_examples(examples.uri)
    assert {path: (value[features.FORMAT].decode(), value[features.CHANNELS])
            for path, value in found.items()} == accepted
    assert {split: sum(1 for value in found.values() if value["split"] == split)
            for split in ("train", "eval")} == written
    for path, value in found.items():
        assert np.asarray(Image.open(io.BytesIO(value[features.IMAGE]))).shape == (
            8, 8, 3), path
        assert value[features.LABEL].decode() == (path.split("/")[0] if "/" in path else "")
    assert (found["dogs/rotated.jpg"][features.HEIGHT],
            found["dogs/rotated.jpg"][features.WIDTH]) == (16, 8)


def test_counts_are_custom_properties_of_the_examples_artifact(corpus):
    *_, examples, report = corpus
    properties = {name: examples.get_custom_property(name) for name in (
        "inputs_seen", "rejected", "examples_written_train", "examples_written_eval")}
    assert properties == {"inputs_seen": 27, "rejected": 9,
                          "examples_written_train": report["examples_written"]["train"],
                          "examples_written_eval": report["examples_written"]["eval"]}
    assert examples.get_custom_property("rejected_fraction") == pytest.approx(9 / 27)
    assert not os.path.exists(os.path.join(examples.uri, "_ingest_work"))


def test_multi_process_runner_gives_the_same_examples_and_report(corpus):
    root, _, _, examples, report = corpus
    other_examples, other_report = run_example_gen(root / "images", root / "multi_process",
                                                   CORPUS_OPTIONS, MULTI_PROCESS)
    assert {key: value for key, value in other_report.items() if key != "rejections"} == {
        key: value for key, value in report.items() if key != "rejections"}
    assert rejections_of(other_report) == rejections_of(report)
    assert read_examples(other_examples.uri) == read_examples(examples.uri)


def test_examples_go_to_the_split_tfx_would_choose_for_their_path():
    """Our writer keeps TFX's hash split, so no example changes split with it."""
    from tfx.components.example_gen.base_example_gen_executor import _PartitionFn

    from components.ingest.component import split_output_config
    from components.ingest.beam_job import split_of

    split_config = split_output_config(0.8).split_config
    bucket_ends = [80, 100]
    chosen = []
    for index in range(200):
        path = tf.train.Feature(bytes_list=tf.train.BytesList(value=[f"c/{index}.png".encode()]))
        example = tf.train.Example(features=tf.train.Features(feature={features.PATH: path}))
        chosen.append(split_of(example, 2, features.PATH, bucket_ends))
        assert chosen[-1] == _PartitionFn(example, 2, bucket_ends, split_config)
    assert 0.7 < chosen.count(0) / len(chosen) < 0.9


def test_too_many_rejections_fail_the_run_with_one_message(corpus):
    from components.ingest.report import IngestionError

    root, *_ = corpus
    with pytest.raises(IngestionError, match=r"9 of 27 inputs .* were rejected \(33.3%\), "
                                             r"over the limit of 10.0%"):
        run_example_gen(root / "images", root / "default_limit",
                        IngestOptions(CORPUS_OPTIONS.spec, dataclasses.replace(
                            CORPUS_OPTIONS.settings, max_rejected_fraction=0.1)))
    assert json.load(open(root / "default_limit" / "ingestion_report.json"))["rejected"] == 9


def test_a_folder_without_a_valid_image_fails_the_run(tmp_path):
    from components.ingest.report import IngestionError

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.png").write_bytes(b"")
    (tmp_path / "data" / "b.jpg").write_text("not a picture")
    with pytest.raises(IngestionError, match="No valid image found in .*2 inputs seen, "
                                             "0 examples written"):
        run_example_gen(tmp_path / "data", tmp_path / "out",
                        IngestOptions(settings=IngestSettings(train_fraction=0.5)))


def test_tfrecords_with_their_own_image_feature_name(tmp_path):
    data = tmp_path / "records"
    data.mkdir()

    def record(image=None, label=None):
        feature = {}
        if image is not None:
            feature["image_png"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[image]))
        if isinstance(label, str):
            feature["label"] = tf.train.Feature(bytes_list=tf.train.BytesList(
                value=[label.encode()]))
        elif label is not None:
            feature["label"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))
        return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()

    with tf.io.TFRecordWriter(str(data / "plain.tfrecord")) as writer:
        writer.write(record(encode(noise((8, 8)), "PNG"), "zero"))
        writer.write(record(encode(noise((8, 8, 3)), "JPEG"), 7))
        writer.write(record(b"garbage", "zero"))
        writer.write(record(label="zero"))
    with tf.io.TFRecordWriter(str(data / "more.tfrecord.gz"), options="GZIP") as writer:
        writer.write(record(encode(noise((8, 8)), "WEBP", lossless=True)))
    (data / "README").write_text("not records")

    examples, report = run_example_gen(
        data, tmp_path / "out", IngestOptions(settings=IngestSettings(
            input_format="tfrecord", image_feature="image_png", max_rejected_fraction=0.6,
            train_fraction=0.5)))
    assert report["inputs_seen"] == 6
    assert rejections_of(report) == {"plain.tfrecord#2": "not an image",
                                     "plain.tfrecord#3": "not an image",
                                     "README#0": "truncated or corrupt"}
    found = read_examples(examples.uri)
    assert {path: (value[features.LABEL].decode(), value[features.FORMAT].decode())
            for path, value in found.items()} == {"plain.tfrecord#0": ("zero", "PNG"),
                                                  "plain.tfrecord#1": ("7", "JPEG"),
                                                  "more.tfrecord.gz#0": ("", "WEBP")}


TFDS_OPTIONS = IngestOptions(ImageSpec(8, 3), IngestSettings(
    input_format="tfds", tfds_name="tiny_shapes", image_feature="picture",
    label_feature="shape", max_rejected_fraction=0.5, train_fraction=0.5))


def tfds_options(**change) -> IngestOptions:
    return dataclasses.replace(TFDS_OPTIONS,
                               settings=dataclasses.replace(TFDS_OPTIONS.settings, **change))


@pytest.fixture(scope="module")
def tfds_dataset(tmp_path_factory):
    """tiny_shapes prepared as TFRecord shards; the names and outcomes of its records."""
    from tests.tfds_datasets import prepare

    data_dir = tmp_path_factory.mktemp("tfds") / "data"
    accepted, refused = prepare(data_dir)
    return data_dir, accepted, refused


def test_a_prepared_tfds_dataset_is_streamed_from_its_shards_record_by_record(tfds_dataset,
                                                                              tmp_path):
    data_dir, accepted, refused = tfds_dataset
    examples, report = run_example_gen(data_dir, tmp_path / "out", TFDS_OPTIONS)
    assert report["inputs_seen"] == len(accepted) + len(refused) == 10
    assert rejections_of(report) == refused
    assert report["rejected_by_reason"] == {
        "empty file": 1, "truncated or corrupt": 1, "not an image": 1,
        "unsupported format": 1, "too many pixels": 0, "unreadable": 0}
    assert report["source"]["tfds_name"] == "tiny_shapes"
    found = read_examples(examples.uri)
    assert {path: (value[features.FORMAT].decode(), value[features.CHANNELS],
                   value[features.LABEL].decode()) for path, value in found.items()} == accepted
    assert sum(report["examples_written"].values()) == len(accepted) == 6
    for path, value in found.items():
        assert np.asarray(Image.open(io.BytesIO(value[features.IMAGE]))).shape == (8, 8, 3), path


def test_a_chosen_split_of_an_array_record_dataset_with_a_damaged_shard(tmp_path):
    from tests.tfds_datasets import prepare

    accepted, refused = prepare(tmp_path / "data", file_format="array_record")
    version_dir = tmp_path / "data" / "tiny_shapes" / "1.0.0"
    cut = version_dir / "tiny_shapes-test.array_record-00001-of-00002"
    cut.write_bytes(cut.read_bytes()[:-10])  # ArrayRecord's footer: the shard is unreadable
    from components.ingest.report import IngestionError

    # One image survives, so a split stays empty and the run stops; the report and the
    # examples written before that check are what this test reads.
    with pytest.raises(IngestionError, match=r"The eval split got no image .*: 3 inputs seen, "
                                             r"1 examples written \(1 train, 0 eval\)"):
        run_example_gen(
            tmp_path / "data", tmp_path / "out",
            tfds_options(tfds_splits=("test",), max_rejected_fraction=1.0))
    with open(tmp_path / "out" / "ingestion_report.json") as source:
        report = json.load(source)
    in_test = {name for name in {**accepted, **refused}
               if name.startswith("tfds:tiny_shapes/test/")}
    assert report["inputs_seen"] == len(in_test) == 3
    assert rejections_of(report) == {**{name: reason for name, reason in refused.items()
                                        if name in in_test},
                                     "tfds:tiny_shapes/test/2": "truncated or corrupt"}
    assert {path: value[features.LABEL].decode()
            for path, value in read_examples(str(tmp_path / "out")).items()} == {
        name: label for name, (_, _, label) in accepted.items()
        if name in in_test - {"tfds:tiny_shapes/test/2"}}


def test_records_a_damaged_or_missing_tfds_shard_does_not_yield_are_rejected(tfds_dataset,
                                                                             tmp_path):
    data_dir, accepted, refused = tfds_dataset
    shutil.copytree(data_dir, tmp_path / "data")
    version_dir = tmp_path / "data" / "tiny_shapes" / "1.0.0"
    cut = version_dir / "tiny_shapes-train.tfrecord-00001-of-00002"
    cut.write_bytes(cut.read_bytes()[:-10])  # into the last record
    (version_dir / "tiny_shapes-test.tfrecord-00000-of-00002").unlink()

    examples, report = run_example_gen(tmp_path / "data", tmp_path / "out",
                                       tfds_options(max_rejected_fraction=1.0))
    lost_to_the_cut = "tfds:tiny_shapes/train/6"  # train's 7 records: shards of 4 and 3
    missing_shard = ("tfds:tiny_shapes/test/0", "tfds:tiny_shapes/test/1")  # of 2 and 1
    assert report["inputs_seen"] == 10
    assert rejections_of(report) == {
        **refused, lost_to_the_cut: "truncated or corrupt",
        **{name: "unreadable" for name in missing_shard}}
    assert set(read_examples(examples.uri)) == set(accepted) - {lost_to_the_cut,
                                                                *missing_shard}


@pytest.mark.parametrize("change, message", [
    ({"tfds_name": "mnist"}, r"TFDS dataset 'mnist' is not prepared in .*, and ingest never "
                             r"downloads\. Prepare it where it can be downloaded, with "
                             r"`tfds build mnist --data_dir DIR`"),
    ({"image_feature": "image"}, r"has no image feature 'image'; its image features: picture"),
    ({"label_feature": "label"}, r"has no feature 'label' for labels \(its features: "
                                 r"id, picture, shape\)"),
    ({"tfds_splits": ("validation",)}, r"has no split validation; its splits: test, train"),
])
def test_a_tfds_dataset_that_is_not_there_as_asked_fails_with_one_message(
        tfds_dataset, tmp_path, change, message):
    from components.ingest.report import IngestionError

    with pytest.raises(IngestionError, match=message) as failure:
        run_example_gen(tfds_dataset[0], tmp_path / "out",
                        tfds_options(**change))
    error = failure.value  # printed alone: no TFDS exception chained to it
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_class_folders_are_written_mixed_not_one_class_after_another(tmp_path):
    """The Trainer shuffles through a bounded buffer: examples must not arrive by class."""
    for label in ("a", "b"):
        os.makedirs(tmp_path / "images" / label)
        for index in range(40):
            Image.fromarray(noise((8, 8, 3), seed=index)).save(
                tmp_path / "images" / label / f"{index}.png")
    run_example_gen(tmp_path / "images", tmp_path / "out", CORPUS_OPTIONS)

    for split in ("train", "eval"):
        files = sorted(tf.io.gfile.glob(f"{tmp_path}/out/Split-{split}/*"))
        labels = [tf.train.Example.FromString(record.numpy()).features.feature[
            features.LABEL].bytes_list.value[0] for record in
            tf.data.TFRecordDataset(files, compression_type="GZIP")]
        changes = sum(a != b for a, b in zip(labels, labels[1:]))
        assert len(labels) > 20 and changes > len(labels) // 4, (split, labels)
