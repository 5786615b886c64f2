"""Image geometry and the uint8 quantization shared by training, evaluation and export.

Real and generated images must go through the identical quantization before
features are extracted (FID moves by whole points otherwise), so both sides
call `to_uint8` on the [-1, 1] floats the networks see.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from modules.settings import Settings, setting

MIN_IMAGE_SIZE = 8
MAX_IMAGE_SIZE = 128
SUPPORTED_CHANNELS = (1, 3)
# Transform's custom_config key for the ImageSpec (as JSON), which preprocessing_fn reads.
IMAGE_KEY = "image"


@dataclasses.dataclass(frozen=True)
class ImageSpec(Settings):
    """The square image shape the whole pipeline agrees on (every stage is given this one)."""

    size: int = setting(8, alias="--image-size",
                        help=f"side of the square images, a power of two from {MIN_IMAGE_SIZE} "
                             f"to {MAX_IMAGE_SIZE}")
    channels: int = setting(1, alias="--channels", choices=SUPPORTED_CHANNELS,
                            help="1 (grayscale) or 3 (colour)")

    def __post_init__(self):
        if not MIN_IMAGE_SIZE <= self.size <= MAX_IMAGE_SIZE or self.size & (self.size - 1):
            raise ValueError(
                f"image size must be a power of two from {MIN_IMAGE_SIZE} to "
                f"{MAX_IMAGE_SIZE}, got {self.size}")
        if self.channels not in SUPPORTED_CHANNELS:
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.size, self.size, self.channels)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Maps floats in [-1, 1] to uint8 pixels the way a PNG would store them."""
    scaled = np.round((np.asarray(images, np.float64) + 1.0) * 127.5)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def from_uint8(pixels: np.ndarray) -> np.ndarray:
    """Inverse of `to_uint8`: uint8 pixels back to float32 in [-1, 1]."""
    return (np.asarray(pixels, np.float32) / 127.5 - 1.0).astype(np.float32)


def make_grid(pixels: np.ndarray, columns: int | None = None, padding: int = 1) -> np.ndarray:
    """Tiles uint8 images [N, H, W, C] into one [rows*H', columns*W', C] image."""
    pixels = np.asarray(pixels, np.uint8)
    count, height, width, channels = pixels.shape
    columns = columns or int(math.ceil(math.sqrt(count)))
    rows = int(math.ceil(count / columns))
    grid = np.zeros((rows * (height + padding) + padding,
                     columns * (width + padding) + padding, channels), np.uint8)
    for index, image in enumerate(pixels):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top:top + height, left:left + width] = image
    return grid


def upscale_nearest(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Enlarges an image [H, W, C] by pixel repetition, so tiny samples stay legible."""
    return np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)


def png_bytes(pixels: np.ndarray) -> bytes:
    """PNG encoding of a uint8 [H, W, C] array (C = 1 or 3)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(path: str, pixels: np.ndarray) -> None:
    """Writes a uint8 [H, W, C] array as PNG to any path TensorFlow's gfile can open."""
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "wb") as out:
        out.write(png_bytes(pixels))


def viewable_grid(pixels: np.ndarray, min_cell_pixels: int = 32) -> np.ndarray:
    """A grid of uint8 images, upscaled so that tiny images stay legible."""
    return upscale_nearest(make_grid(pixels), max(1, min_cell_pixels // pixels.shape[1]))


def save_sample_grid(path: str, images: np.ndarray) -> None:
    """Writes generated or real images in [-1, 1] as one PNG grid, upscaled for viewing."""
    write_png(path, viewable_grid(to_uint8(images)))
