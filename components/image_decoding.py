"""Reading one image file into a tf.Example, or a reason why it cannot be used.

Kept free of TFX and Beam so it is unit-testable on its own and reusable by the
ingest benchmark.
"""
from __future__ import annotations

import dataclasses
import io
import posixpath
from typing import Union

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import tensorflow as tf
from PIL import Image, UnidentifiedImageError

from modules import features

# Formats TensorFlow's decode_image reads in Transform, by PIL's name for them.
SUPPORTED_FORMATS = ("PNG", "JPEG", "GIF", "BMP")


@dataclasses.dataclass(frozen=True)
class Rejection:
    """A file that was not ingested, and why (a short fixed reason plus detail)."""

    path: str
    reason: str
    detail: str = ""


def label_of(relative_path: str) -> str:
    """The class of an image: its top-level subfolder, or "" for files at the root."""
    parts = relative_path.split("/")
    return parts[0] if len(parts) > 1 else ""


def image_to_example(content: bytes, relative_path: str) -> Union[tf.train.Example, Rejection]:
    """Validates an image by its content (not its name) and wraps it as a tf.Example."""
    relative_path = posixpath.normpath(relative_path.replace("\\", "/"))
    if not content:
        return Rejection(relative_path, "empty file")
    try:
        with Image.open(io.BytesIO(content)) as image:
            image_format = image.format
            width, height = image.size
            channels = len(image.getbands())
            image.load()  # decodes fully: catches truncated and corrupt files
    except UnidentifiedImageError:
        return Rejection(relative_path, "not an image")
    except (OSError, SyntaxError, ValueError) as error:
        return Rejection(relative_path, "truncated or corrupt", str(error))
    if image_format not in SUPPORTED_FORMATS:
        return Rejection(relative_path, "unsupported format", str(image_format))

    def _bytes(value: bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def _int(value: int):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    return tf.train.Example(features=tf.train.Features(feature={
        features.IMAGE: _bytes(content),
        features.HEIGHT: _int(height),
        features.WIDTH: _int(width),
        features.CHANNELS: _int(channels),
        features.LABEL: _bytes(label_of(relative_path).encode("utf-8")),
        features.PATH: _bytes(relative_path.encode("utf-8")),
    }))
