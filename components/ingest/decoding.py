"""One input image to one canonical tf.Example, or the reason it cannot be used.

Every image is normalized here, at ingest, with Pillow: oriented by its EXIF
tag, reduced to 8-bit grayscale or RGB on a black background, converted to the
configured channel count, made square (center crop or black padding) and
resized (antialiased) to the configured size. The example stores that result as
a lossless PNG, so Transform decodes one format with one channel count and
never resamples. Kept free of TFX and Beam so it is unit-testable on its own and
reusable by the ingest benchmark.

Conversions (the same for every file, whatever its format):
- alpha (RGBA, gray+alpha, transparent palette entries) is composited onto black:
  each colour sample becomes round(value * alpha / 255);
- palette images are expanded to their RGB(A) colours first;
- 16-bit samples keep their high byte (value >> 8), which is what Pillow does
  itself when it opens 16-bit colour PNGs;
- CMYK JPEGs are converted to RGB with Pillow's formula (no ICC colour management);
- an image whose colour samples are equal in every pixel counts as grayscale;
- colour to one channel uses ITU-R 601-2 luma (Pillow's `convert("L")`);
  grayscale to three channels repeats the gray value.
"""
from __future__ import annotations

import dataclasses
import io
import posixpath
import struct
import zlib
from typing import Union

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps, UnidentifiedImageError

from components.ingest.settings import IngestOptions
from modules import features

# Pillow's names for the formats we take; MPO is what cameras' multi-picture JPEGs open as.
SUPPORTED_FORMATS = ("PNG", "JPEG", "MPO", "GIF", "BMP", "WEBP")

EMPTY = "empty file"
CORRUPT = "truncated or corrupt"
NOT_AN_IMAGE = "not an image"
UNSUPPORTED = "unsupported format"
TOO_MANY_PIXELS = "too many pixels"
UNREADABLE = "unreadable"
REASONS = (EMPTY, CORRUPT, NOT_AN_IMAGE, UNSUPPORTED, TOO_MANY_PIXELS, UNREADABLE)

# What Pillow raises for damaged data, beyond its own OSError.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)
_SIXTEEN_BIT_GRAY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


@dataclasses.dataclass(frozen=True)
class Rejection:
    """A file that was not ingested: its path, a reason from `REASONS`, and detail."""

    path: str
    reason: str
    detail: str = ""


class ImageRejected(Exception):
    """Raised by `normalize_image` with a reason from `REASONS` and a detail."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclasses.dataclass(frozen=True)
class NormalizedImage:
    """The canonical pixels of one image and what its source was."""

    pixels: np.ndarray          # uint8 [size, size, channels]
    source_height: int          # after EXIF orientation
    source_width: int
    source_channels: int        # colour channels of the source: 1 (gray) or 3
    source_format: str          # Pillow's format name


def label_of(relative_path: str) -> str:
    """The class of an image: its top-level subfolder, or "" for files at the root."""
    parts = relative_path.split("/")
    return parts[0] if len(parts) > 1 else ""


def normalize_image(content: bytes, options: IngestOptions) -> NormalizedImage:
    """Decodes and normalizes one image; raises `ImageRejected` when it cannot be used."""
    if not content:
        raise ImageRejected(EMPTY)
    # Pillow refuses images over twice this by itself; we refuse over once, below. Its limit
    # is a global: restored after, so the rest of the process keeps its own.
    max_pixels = options.settings.max_pixels
    pillow_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
    try:
        with Image.open(io.BytesIO(content)) as image:
            if image.format not in SUPPORTED_FORMATS:
                raise ImageRejected(UNSUPPORTED, str(image.format))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(TOO_MANY_PIXELS, f"{width}x{height} is over {max_pixels}")
            image.load()  # decodes fully: catches truncated and corrupt files
            source_format = image.format
            oriented = ImageOps.exif_transpose(image)
    except UnidentifiedImageError:
        raise ImageRejected(NOT_AN_IMAGE) from None
    except Image.DecompressionBombError as error:
        raise ImageRejected(TOO_MANY_PIXELS, str(error)) from None
    except _DECODE_ERRORS as error:
        raise ImageRejected(CORRUPT, str(error)) from None
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit
    canonical = _canonical_pixels(oriented)
    if canonical is None:
        raise ImageRejected(UNSUPPORTED, f"pixel mode {oriented.mode}")
    source_channels = canonical.shape[-1]
    return NormalizedImage(
        pixels=_fit_and_resize(_to_channels(canonical, options.spec.channels), options),
        source_height=oriented.height, source_width=oriented.width,
        source_channels=source_channels, source_format=source_format)


def _canonical_pixels(image: Image.Image) -> np.ndarray | None:
    """uint8 [H, W, 1] for grayscale content, [H, W, 3] for colour; alpha composited onto black."""
    if image.mode == "P" or image.mode == "PA":
        image = image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info
                              else "RGB")
    if image.mode in _SIXTEEN_BIT_GRAY_MODES:
        pixels = (np.clip(np.asarray(image, np.int64), 0, 65535) >> 8).astype(np.uint8)[..., None]
    elif image.mode == "1":
        pixels = np.asarray(image.convert("L"))[..., None]
    elif image.mode in ("L", "LA", "RGB", "RGBA"):
        pixels = np.asarray(image).reshape(image.height, image.width, -1)
    elif image.mode == "CMYK":
        pixels = np.asarray(image.convert("RGB"))
    else:
        return None
    if image.mode in ("LA", "RGBA"):
        colour, alpha = pixels[..., :-1].astype(np.uint32), pixels[..., -1:].astype(np.uint32)
        pixels = ((colour * alpha + 127) // 255).astype(np.uint8)
    if pixels.shape[-1] == 3 and _is_gray(pixels):
        pixels = pixels[..., :1]
    return pixels


def _is_gray(rgb: np.ndarray) -> bool:
    return bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0],
                                                                          rgb[..., 2]))


def _to_channels(pixels: np.ndarray, channels: int) -> Image.Image:
    if pixels.shape[-1] == channels:
        return Image.fromarray(pixels[..., 0] if channels == 1 else pixels)
    if channels == 3:
        return Image.fromarray(np.repeat(pixels, 3, axis=-1))
    return Image.fromarray(pixels).convert("L")


def _fit_and_resize(image: Image.Image, options: IngestOptions) -> np.ndarray:
    """Center-crops or black-pads to a square, then resizes (antialiased bilinear).

    An odd pixel to crop or pad falls on the bottom or right.
    """
    width, height = image.size
    side = min(width, height) if options.settings.fit == "center-crop" else max(width, height)
    left, top = _centered_offset(width, side), _centered_offset(height, side)
    if side != width or side != height:
        # crop() pads with zeros wherever the box leaves the image: one call for both fits.
        image = image.crop((left, top, left + side, top + side))
    size = options.spec.size
    if side != size:
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image).reshape(size, size, options.spec.channels)


def _centered_offset(length: int, side: int) -> int:
    """Where a centered window of `side` starts along `length` (negative when it pads)."""
    return (length - side) // 2 if length >= side else -((side - length) // 2)


def encode_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(buffer, "PNG")
    return buffer.getvalue()


def image_to_example(content: bytes, relative_path: str, options: IngestOptions,
                     label: str | None = None) -> Union[tf.train.Example, Rejection]:
    """Normalizes an image (recognised by content, not name) into a tf.Example.

    `label` defaults to the top-level subfolder of `relative_path`.
    """
    relative_path = posixpath.normpath(relative_path.replace("\\", "/"))
    try:
        result = normalize_image(content, options)
    except ImageRejected as rejected:
        return Rejection(relative_path, rejected.reason, rejected.detail)

    def _bytes(value: bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def _int(value: int):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    return tf.train.Example(features=tf.train.Features(feature={
        features.IMAGE: _bytes(encode_png(result.pixels)),
        features.HEIGHT: _int(result.source_height),
        features.WIDTH: _int(result.source_width),
        features.CHANNELS: _int(result.source_channels),
        features.FORMAT: _bytes(result.source_format.encode()),
        features.LABEL: _bytes((label_of(relative_path) if label is None else label).encode()),
        features.PATH: _bytes(relative_path.encode("utf-8")),
    }))
