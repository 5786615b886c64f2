"""The three kinds of data every quality claim is measured on, built from images that
installed packages ship (nothing is downloaded, nothing large is committed).

- `digits`: scikit-learn's 1,797 labeled 8x8 handwritten digits (the bundled default).
- `rgb_photos`: unlabeled RGB scenery crops from scikit-learn's two sample photographs
  (`china.jpg`, a temple among trees; `flower.jpg`), at random positions and scales,
  randomly mirrored: the texture-and-colour statistics of small photo crops.
- `gray_objects`: unlabeled grayscale images of one object (the flower's blossom),
  centred, at random rotation, zoom, small shift, mirroring and brightness: the
  shape of a typical single-object GAN dataset (faces, products).

Each builder is a pure function of (count, size, seed). `write_folder` writes any of
them as a flat folder of PNGs (or class subfolders when labels are given), the layout
a user points `--data-dir` at.

    python -m benchmarks.datasets rgb_photos OUT_DIR [--count 600 --size 32]
"""
from __future__ import annotations

import argparse
import functools
import os
import pathlib

import numpy as np
from PIL import Image

KINDS = ("digits", "rgb_photos", "gray_objects")
PHOTOS = ("china.jpg", "flower.jpg")
# The blossom in flower.jpg (427x640): centre (row, column) and a radius that holds it.
BLOSSOM_CENTRE = (215, 330)
BLOSSOM_RADIUS = 150


@functools.lru_cache(maxsize=None)
def _photo(name: str) -> np.ndarray:
    import sklearn.datasets

    path = pathlib.Path(sklearn.datasets.__file__).parent / "images" / name
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _resize(crop: np.ndarray, size: int) -> np.ndarray:
    mode = "RGB" if crop.ndim == 3 else "L"
    image = Image.fromarray(crop, mode=mode).resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(image)


def digits(count: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [N, 8, 8, 1] digits and int64 labels, in a seeded order."""
    from pipeline.bundled_data import digits_as_uint8

    pixels, labels = digits_as_uint8()
    order = np.random.default_rng(seed).permutation(len(pixels))[:count]
    return pixels[order][..., None], labels[order]


def rgb_photos(count: int = 600, size: int = 32, seed: int = 0) -> np.ndarray:
    """uint8 [count, size, size, 3] crops of side 48..160 px from the two photos."""
    rng = np.random.default_rng(seed)
    images = np.empty((count, size, size, 3), np.uint8)
    for index in range(count):
        photo = _photo(PHOTOS[rng.integers(len(PHOTOS))])
        side = int(rng.integers(48, 161))
        top = int(rng.integers(0, photo.shape[0] - side + 1))
        left = int(rng.integers(0, photo.shape[1] - side + 1))
        crop = photo[top:top + side, left:left + side]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        images[index] = _resize(np.ascontiguousarray(crop), size)
    return images


def gray_objects(count: int = 600, size: int = 32, seed: int = 0) -> np.ndarray:
    """uint8 [count, size, size, 1] views of the blossom: rotated, zoomed, shifted, lit."""
    rng = np.random.default_rng(seed)
    gray = Image.fromarray(_photo("flower.jpg")).convert("L")
    row, column = BLOSSOM_CENTRE
    images = np.empty((count, size, size, 1), np.uint8)
    for index in range(count):
        radius = BLOSSOM_RADIUS * rng.uniform(0.75, 1.15)
        shift_row, shift_column = rng.uniform(-0.08, 0.08, size=2) * radius
        rotated = gray.rotate(float(rng.uniform(0, 360)), resample=Image.Resampling.BILINEAR,
                              center=(column, row))
        box = (column + shift_column - radius, row + shift_row - radius,
               column + shift_column + radius, row + shift_row + radius)
        crop = rotated.resize((size, size), Image.Resampling.LANCZOS, box=box)
        pixels = np.asarray(crop, np.float32)
        if rng.random() < 0.5:
            pixels = pixels[:, ::-1]
        pixels = pixels * rng.uniform(0.7, 1.2) + rng.uniform(-20, 20)
        images[index, ..., 0] = np.clip(np.round(pixels), 0, 255).astype(np.uint8)
    return images


def build(kind: str, count: int | None = None, size: int = 32,
          seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """(uint8 images [N, H, W, C], labels or None) of one kind; digits keep their 8x8 size."""
    if kind == "digits":
        return digits(count, seed)
    if kind == "rgb_photos":
        return rgb_photos(count or 600, size, seed), None
    if kind == "gray_objects":
        return gray_objects(count or 600, size, seed), None
    raise ValueError(f"unknown data kind {kind!r}; choose from {KINDS}")


def write_folder(images: np.ndarray, folder: str | os.PathLike,
                 labels: np.ndarray | None = None) -> pathlib.Path:
    """PNG files in `folder` (flat, or one subfolder per label), as a user's data looks."""
    folder = pathlib.Path(folder)
    for index, image in enumerate(images):
        target = folder / str(labels[index]) if labels is not None else folder
        target.mkdir(parents=True, exist_ok=True)
        pixels = image[..., 0] if image.shape[-1] == 1 else image
        Image.fromarray(pixels).save(target / f"{index:05d}.png")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("out_dir")
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    images, labels = build(args.kind, args.count, args.size, args.seed)
    write_folder(images, args.out_dir, labels)
    print(f"{len(images)} {args.kind} images ({images.shape[1]}x{images.shape[2]}x"
          f"{images.shape[3]}) in {args.out_dir}")


if __name__ == "__main__":
    main()
