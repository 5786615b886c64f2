"""Ingest throughput: the real ExampleGen Beam job vs a plain single-process loop.

`python -m benchmarks.ingest [--images N]` generates a folder of N images
(JPEG and PNG, several sizes and aspect ratios, four class subfolders), then
times, in the same run:
- a plain Python loop that reads, decodes, normalizes, PNG-encodes and writes
  every image to one gzipped TFRecord file (`image_to_example`, one process);
- the ExampleGen executor (the same Beam job the pipeline runs: listing, reading,
  normalizing, splitting, writing, the ingestion report) in-process
  (FnApiRunner) and with the multi-process runner.
It prints images per second for each and their ratio to the loop. Importing TFX
is not timed; Beam's worker start-up is.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import tempfile
import time

import numpy as np
from PIL import Image

from components.ingest_config import IngestOptions, IngestSettings
from modules.images import ImageSpec

SIZES = ((96, 72), (128, 128), (160, 90), (64, 96))
CLASSES = ("a", "b", "c", "d")


def generate_folder(root: pathlib.Path, count: int, seed: int = 0) -> None:
    """Smooth random images (so JPEG and PNG sizes are realistic), half JPEG, half PNG."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        width, height = SIZES[index % len(SIZES)]
        low = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
        image = Image.fromarray(low).resize((width, height), Image.Resampling.BILINEAR)
        folder = root / CLASSES[index % len(CLASSES)]
        folder.mkdir(parents=True, exist_ok=True)
        if index % 2:
            image.save(folder / f"{index:05d}.jpg", quality=90)
        else:
            image.save(folder / f"{index:05d}.png")


def plain_loop(root: pathlib.Path, output: pathlib.Path, options: IngestOptions) -> int:
    """The same decode, normalize and encode as ingest, in one process, written to one file."""
    import tensorflow as tf

    from components.image_decoding import image_to_example

    written = 0
    with tf.io.TFRecordWriter(str(output), options="GZIP") as writer:
        for directory, _, names in os.walk(root):
            for name in names:
                path = os.path.join(directory, name)
                with open(path, "rb") as source:
                    example = image_to_example(source.read(), os.path.relpath(path, root),
                                               options.settings)
                writer.write(example.SerializeToString())
                written += 1
    return written


def beam_ingest(root: pathlib.Path, output: pathlib.Path, options: IngestOptions,
                beam_args: list[str]) -> int:
    from components.image_example_gen import run_ingest

    examples = run_ingest(str(root), str(output), options, beam_args)
    return sum(examples.get_custom_property(f"examples_written_{split}")
               for split in ("train", "eval"))


def timed(function, *args) -> tuple[int, float]:
    start = time.perf_counter()
    count = function(*args)
    return count, time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    options = IngestOptions(IngestSettings(ImageSpec(args.image_size, 3)))

    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as scratch:
        scratch = pathlib.Path(scratch)
        generate_folder(scratch / "images", args.images)
        import components.image_example_gen  # noqa: F401  (TFX import, not timed)

        results = {"plain loop (1 process)": timed(plain_loop, scratch / "images",
                                                   scratch / "loop.tfrecord.gz", options)}
        results["Beam ExampleGen, in-process"] = timed(
            beam_ingest, scratch / "images", scratch / "in_process", options,
            ["--runner=FnApiRunner"])
        results[f"Beam ExampleGen, multi-process x{args.workers}"] = timed(
            beam_ingest, scratch / "images", scratch / "multi_process", options,
            ["--direct_running_mode=multi_processing", f"--direct_num_workers={args.workers}"])

    baseline = args.images / results["plain loop (1 process)"][1]
    print(f"\ningest benchmark: {args.images} images (JPEG and PNG, 64x96 to 160x90) "
          f"to {args.image_size}x{args.image_size} RGB, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} (shared machine: figures are noisy)")
    for name, (count, seconds) in results.items():
        if count != args.images:
            raise SystemExit(f"{name} wrote {count} examples, expected {args.images}")
        rate = count / seconds
        print(f"  {name:<36} {seconds:7.1f} s  {rate:8.0f} images/s  "
              f"{rate / baseline:5.2f}x the loop")


if __name__ == "__main__":
    main()
