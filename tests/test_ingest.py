"""Ingest of a handful of files: decoding decisions, then the real Beam executor."""
import io
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from components.image_decoding import Rejection, image_to_example, label_of
from modules import features


def encode(array, image_format, **kwargs):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=image_format, **kwargs)
    return buffer.getvalue()


NOISE_PNG = encode(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8), "PNG")


def feature(example, name):
    value = example.features.feature[name]
    return (value.bytes_list.value or value.int64_list.value)[0]


def test_png_becomes_an_example_with_its_geometry_and_label():
    content = encode(np.zeros((6, 10, 3), np.uint8), "PNG")
    example = image_to_example(content, "cats/a.png")
    assert feature(example, features.IMAGE) == content
    assert (feature(example, features.HEIGHT), feature(example, features.WIDTH),
            feature(example, features.CHANNELS)) == (6, 10, 3)
    assert feature(example, features.LABEL) == b"cats"
    assert feature(example, features.PATH) == b"cats/a.png"


def test_jpeg_is_recognised_by_content_whatever_its_name():
    content = encode(np.full((8, 8), 128, np.uint8), "JPEG")
    example = image_to_example(content, "top-level.PNG")
    assert feature(example, features.CHANNELS) == 1
    assert feature(example, features.LABEL) == b""


@pytest.mark.parametrize("content,reason", [
    (b"", "empty file"),
    (b"just some text, not pixels", "not an image"),
    (NOISE_PNG[:len(NOISE_PNG) // 2], "truncated or corrupt"),
    (encode(np.zeros((8, 8, 3), np.uint8), "TIFF"), "unsupported format"),
], ids=["empty", "text", "truncated", "tiff"])
def test_bad_files_are_rejected_with_a_reason(content, reason):
    result = image_to_example(content, "x/bad.png")
    assert isinstance(result, Rejection)
    assert (result.path, result.reason) == ("x/bad.png", reason)


def test_label_is_the_top_level_subfolder():
    assert label_of("dogs/2019/x.png") == "dogs"
    assert label_of("x.png") == ""


def test_executor_writes_train_and_eval_examples_for_a_folder(tmp_path):
    from google.protobuf import json_format
    from tfx import v1 as tfx
    from tfx.proto import example_gen_pb2

    from components.image_example_gen import (ImageExampleGenExecutor, TOP_LEVEL_PATTERN,
                                              split_output_config)

    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    written = {}
    for index in range(20):
        folder = data / ("a" if index % 2 else "b") / ("nested" if index % 5 == 0 else "")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{index}.png"
        path.write_bytes(encode(rng.integers(0, 255, (5, 7), np.uint8), "PNG"))
        written[os.path.relpath(path, data)] = path.read_bytes()
    (data / "notes.txt").write_text("not an image")

    examples = tfx.types.standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    exec_properties = {
        "input_base": str(data),
        "input_config": json.dumps({"splits": [{"name": "images", "pattern": TOP_LEVEL_PATTERN}]}),
        "output_config": json_format.MessageToJson(split_output_config(0.5, features.PATH)),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
        "output_file_format": example_gen_pb2.FORMAT_TFRECORDS_GZIP,
    }
    ImageExampleGenExecutor().Do({}, {"examples": [examples]}, exec_properties)

    found = {}
    for split in ("train", "eval"):
        files = tf.io.gfile.glob(f"{examples.uri}/Split-{split}/*")
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
            example = tf.train.Example.FromString(record.numpy())
            found[feature(example, features.PATH).decode()] = (split,
                                                                feature(example, features.IMAGE))
    assert {path: content for path, (_, content) in found.items()} == written
    assert {split for split, _ in found.values()} == {"train", "eval"}
