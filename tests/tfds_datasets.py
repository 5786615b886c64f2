"""A tiny TFDS dataset prepared here from generated images (nothing is downloaded).

TFDS stores an image feature's encoded bytes as they are given, so the dataset
holds good images of several formats and modes beside records that are not
images at all, the same cases a messy folder has.
"""
from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from tests.image_files import encode, noise, png16

DATASET = "tiny_shapes"
CLASS_NAMES = ("circle", "square")
IMAGE_FEATURE = "picture"   # not TFDS's usual names, so the options are exercised
LABEL_FEATURE = "shape"
ID_FEATURE = "id"           # which generated record a stored one is (TFDS reorders records)


def _records() -> dict[str, dict[str, tuple[bytes, int, tuple]]]:
    """split -> record id -> (image bytes, label, expected outcome).

    The outcome is (format, source channels, label name) for an accepted record
    and (reason,) for a rejected one.
    """
    whole_png = encode(noise((32, 32, 3), seed=30), "PNG")
    palette = Image.fromarray((np.arange(64).reshape(8, 8) % 3).astype(np.uint8), "P")
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])
    return {
        "train": {
            "gray_png": (encode(noise((8, 8), seed=31), "PNG"), 0, ("PNG", 1, "circle")),
            "rgb_jpeg": (encode(noise((8, 12, 3), seed=32), "JPEG"), 1, ("JPEG", 3, "square")),
            "rgba_png": (encode(noise((8, 8, 4), seed=33), "PNG"), 0, ("PNG", 3, "circle")),
            "palette_gif": (encode(palette, "GIF"), 1, ("GIF", 3, "square")),
            "empty": (b"", 0, ("empty file",)),
            "text": (b"a caption, not a picture", 1, ("not an image",)),
            "truncated": (whole_png[:len(whole_png) // 2], 0, ("truncated or corrupt",)),
        },
        "test": {
            "unlabeled_webp": (encode(noise((8, 8, 3), seed=34), "WEBP", lossless=True), -1,
                               ("WEBP", 3, "")),
            "gray16_png": (png16(np.random.default_rng(35).integers(
                0, 65536, (8, 8, 1), dtype=np.uint16), 0), 1, ("PNG", 1, "square")),
            "tiff": (encode(noise((8, 8, 3), seed=36), "TIFF"), 0, ("unsupported format",)),
        },
    }


class TinyShapes(tfds.core.GeneratorBasedBuilder):
    """Ten records in two splits; `id` names each one."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            IMAGE_FEATURE: tfds.features.Image(),
            LABEL_FEATURE: tfds.features.ClassLabel(names=CLASS_NAMES),
            ID_FEATURE: tfds.features.Text(),
        }))

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download
        return {split: self._generate_examples(records) for split, records in _records().items()}

    def _generate_examples(self, records):
        for record_id, (content, label, _) in records.items():
            yield record_id, {IMAGE_FEATURE: content, LABEL_FEATURE: label, ID_FEATURE: record_id}


def prepare(data_dir, file_format: str = "tfrecord"
            ) -> tuple[dict[str, tuple[str, int, str]], dict[str, str]]:
    """Prepares the dataset in `data_dir`, two shards per split.

    Returns, by the name ingest gives each record (`tfds:tiny_shapes/<split>/<index>`,
    the index where TFDS stored it), the accepted records' (format, source
    channels, label) and the rejected ones' reasons.
    """
    builder = TinyShapes(data_dir=str(data_dir), file_format=file_format)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(num_shards=2))
    accepted, refused = {}, {}
    for split, records in _records().items():
        for index, record_id in enumerate(_stored_ids(builder, split, file_format)):
            outcome = records[record_id][2]
            name = f"tfds:{DATASET}/{split}/{index}"
            if len(outcome) == 1:
                refused[name] = outcome[0]
            else:
                accepted[name] = outcome
    return accepted, refused


def _stored_ids(builder: tfds.core.DatasetBuilder, split: str, file_format: str) -> list[str]:
    """Record ids in the order TFDS itself reads the split (the i-th is `split[i:i+1]`)."""
    keep_encoded = {IMAGE_FEATURE: tfds.decode.SkipDecoding()}
    if file_format == "array_record":
        stored = builder.as_data_source(split=split, decoders=keep_encoded)
    else:
        stored = tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False,
                                                  decoders=keep_encoded))
    return [example[ID_FEATURE].decode() for example in stored]
