"""Builds small image files of every kind the ingest takes or refuses (no TFX needed)."""
from __future__ import annotations

import io
import os
import pathlib
import struct
import zlib

import numpy as np
from PIL import Image

EXIF_ORIENTATION_TAG = 0x0112
CORPUS_MAX_PIXELS = 10_000  # the pixel limit `write_corpus` is built around


def encode(image: Image.Image | np.ndarray, image_format: str, **kwargs) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **kwargs)
    return buffer.getvalue()


def with_orientation(array: np.ndarray, image_format: str, orientation: int) -> bytes:
    """An image carrying an EXIF orientation tag (6: display rotated 90° clockwise)."""
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[EXIF_ORIENTATION_TAG] = orientation
    return encode(image, image_format, exif=exif.tobytes())


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png16(samples: np.ndarray, color_type: int) -> bytes:
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit colour).

    `samples` is uint16 [H, W, bands]; color_type 0 gray, 2 RGB, 4 gray+alpha, 6 RGBA.
    """
    height, width = samples.shape[:2]
    rows = b"".join(b"\x00" + samples[row].astype(">u2").tobytes() for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows)) + _png_chunk(b"IEND", b""))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels but holds almost no data: a bomb's header."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))


def animated_gif(first: tuple[int, int, int], second: tuple[int, int, int], size=8) -> bytes:
    frames = [Image.new("RGB", (size, size), first), Image.new("RGB", (size, size), second)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma exactly as Pillow computes it (fixed point, rounded)."""
    rgb = rgb.astype(np.int64)
    return ((rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000)
            >> 16).astype(np.uint8)


def over_black(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The documented alpha rule: round(colour * alpha / 255)."""
    return ((colour.astype(np.int64) * alpha.astype(np.int64)[..., None] + 127) // 255).astype(
        np.uint8)


def noise(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def write_corpus(root) -> tuple[dict[str, tuple[str, int]], dict[str, str]]:
    """A messy image folder: every kind of file the ingest takes, and every kind it refuses.

    Returns the accepted files (relative path -> (format, source colour channels))
    and the refused ones (relative path -> reason). Meant for a pixel limit of
    10,000 (`CORPUS_MAX_PIXELS`).
    """
    root = pathlib.Path(root)
    rgb = noise((8, 8, 3), seed=10)
    rgba = noise((8, 8, 4), seed=11)
    samples16 = np.random.default_rng(12).integers(0, 65536, (8, 8, 3), dtype=np.uint16)
    palette = Image.fromarray((np.arange(64).reshape(8, 8) % 4).astype(np.uint8), "P")
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30])
    rotated = np.zeros((8, 16, 3), np.uint8)
    rotated[:, :8] = (250, 10, 10)
    accepted = {
        "cats/gray.png": (encode(noise((8, 8), seed=13), "PNG"), "PNG", 1),
        "cats/gray16.png": (png16(samples16[..., :1], 0), "PNG", 1),
        "cats/gray_alpha.png": (encode(Image.fromarray(noise((8, 8, 2), seed=14), "LA"), "PNG"),
                                "PNG", 1),
        "cats/rgb.png": (encode(rgb, "PNG"), "PNG", 3),
        "cats/rgba.png": (encode(rgba, "PNG"), "PNG", 3),
        "cats/palette.png": (encode(palette, "PNG"), "PNG", 3),
        "cats/rgb16.png": (png16(samples16, 2), "PNG", 3),
        "dogs/gray.jpg": (encode(noise((8, 8), seed=15), "JPEG"), "JPEG", 1),
        "dogs/rgb.jpg": (encode(rgb, "JPEG"), "JPEG", 3),
        "dogs/cmyk.jpg": (encode(Image.new("CMYK", (8, 8), (20, 100, 60, 40)), "JPEG"), "JPEG", 3),
        "dogs/rotated.jpg": (with_orientation(rotated, "JPEG", 6), "JPEG", 3),
        "dogs/nested/deeper.bmp": (encode(rgb, "BMP"), "BMP", 3),
        "dogs/animated.gif": (animated_gif((255, 0, 0), (0, 0, 255)), "GIF", 3),
        "dogs/photo.webp": (encode(rgba, "WEBP", lossless=True), "WEBP", 3),
        "dogs/UPPER.PNG": (encode(rgb, "PNG"), "PNG", 3),
        "dogs/no_extension": (encode(rgb, "JPEG"), "JPEG", 3),
        "dogs/misnamed.png": (encode(rgb, "JPEG"), "JPEG", 3),
        "wide_unlabeled.png": (encode(noise((8, 20, 3), seed=16), "PNG"), "PNG", 3),
    }
    whole_png = encode(noise((64, 64, 3), seed=17), "PNG")
    whole_jpeg = encode(noise((64, 64, 3), seed=18), "JPEG")
    refused = {
        "cats/empty.png": (b"", "empty file"),
        "cats/truncated.png": (whole_png[:len(whole_png) // 2], "truncated or corrupt"),
        "dogs/truncated.jpg": (whole_jpeg[:len(whole_jpeg) // 2], "truncated or corrupt"),
        "notes.txt": (b"labels were assigned by hand", "not an image"),
        "cats/.DS_Store": (bytes(range(256)) * 4, "not an image"),
        "scan.tiff": (encode(rgb, "TIFF"), "unsupported format"),
        "bomb.png": (png_header_only(100_000, 100_000), "too many pixels"),
        "large.png": (encode(noise((100, 101), seed=19), "PNG"), "too many pixels"),
    }
    for relative, (content, *_) in {**accepted, **refused}.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)
    os.symlink(root / "nowhere.png", root / "cats" / "broken_link.png")
    return ({path: (image_format, channels) for path, (_, image_format, channels)
             in accepted.items()},
            {**{path: reason for path, (_, reason) in refused.items()},
             "cats/broken_link.png": "unreadable"})
