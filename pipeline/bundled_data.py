"""The default dataset: scikit-learn's 1,797 handwritten digits (8x8), as PNG files.

scikit-learn ships the digits inside its package, so nothing is downloaded. They
are written once into class subfolders `0/` ... `9/`, exactly the layout a user's
own labeled image folder has.
"""
from __future__ import annotations

import argparse
import os
import pathlib

import numpy as np
from PIL import Image

DIGITS_COUNT = 1797
DIGITS_MAX_VALUE = 16  # scikit-learn's digits hold integer intensities 0..16


def digits_as_uint8() -> tuple[np.ndarray, np.ndarray]:
    """The digits as uint8 [1797, 8, 8] images (white ink on black) and their labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.round(digits.images * (255.0 / DIGITS_MAX_VALUE)).astype(np.uint8)
    return pixels, digits.target.astype(np.int64)


def write_digits(data_dir: str | os.PathLike, limit: int | None = None) -> int:
    """Writes the digits (or the first `limit`) as `<data_dir>/<label>/<index>.png`.

    Does nothing when the folder already holds them all; returns the image count.
    """
    data_dir = pathlib.Path(data_dir)
    pixels, labels = digits_as_uint8()
    count = len(pixels) if limit is None else min(limit, len(pixels))
    if data_dir.is_dir() and len(list(data_dir.glob("*/*.png"))) == count:
        return count
    for index in range(count):
        folder = data_dir / str(labels[index])
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[index], mode="L").save(folder / f"{index:04d}.png")
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    from pipeline.configs import DEFAULT_DATA_DIR

    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--limit", type=int, default=None, help="write only the first N digits")
    args = parser.parse_args()
    count = write_digits(args.data_dir, args.limit)
    print(f"{count} digit images in {args.data_dir}")


if __name__ == "__main__":
    main()
