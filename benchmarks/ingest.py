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

Then it measures memory: the in-process ingest of folders of each size in
`--memory-sizes`, each in a fresh Python process, which reports its peak
resident memory (VmHWM) once TFX is imported and again after the ingest; the
growth per 1,000 images shows whether ingest holds the dataset in memory.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

from components.ingest.settings import IngestOptions
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

    from components.ingest.decoding import image_to_example

    written = 0
    with tf.io.TFRecordWriter(str(output), options="GZIP") as writer:
        for directory, _, names in os.walk(root):
            for name in names:
                path = os.path.join(directory, name)
                with open(path, "rb") as source:
                    example = image_to_example(source.read(), os.path.relpath(path, root),
                                               options)
                writer.write(example.SerializeToString())
                written += 1
    return written


def beam_ingest(root: pathlib.Path, output: pathlib.Path, options: IngestOptions,
                beam_args: list[str]) -> int:
    from components.ingest.component import run_ingest

    examples = run_ingest(str(root), str(output), options, beam_args)
    return sum(examples.get_custom_property(f"examples_written_{split}")
               for split in ("train", "eval"))


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (Linux's VmHWM), in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def measure_memory(root: pathlib.Path, output: pathlib.Path, options: IngestOptions) -> dict:
    """Peak RSS of an in-process ingest of `root`; meant to run alone in a fresh process."""
    import components.ingest.component  # noqa: F401  (TFX: part of the baseline)

    before = peak_rss_mib()
    written = beam_ingest(root, output, options, ["--runner=FnApiRunner"])
    return {"written": written, "after_imports_mib": before, "peak_mib": peak_rss_mib()}


def memory_in_fresh_process(root: pathlib.Path, output: pathlib.Path, image_size: int) -> dict:
    child = subprocess.run(
        [sys.executable, "-m", "benchmarks.ingest", "--measure-memory-of", str(root),
         "--memory-output", str(output), "--image-size", str(image_size)],
        check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(child.stdout.strip().splitlines()[-1])


def memory_table(scratch: pathlib.Path, sizes: list[int], image_size: int) -> None:
    rows = []
    for count in sizes:
        generate_folder(scratch / f"images_{count}", count)
        rows.append((count, memory_in_fresh_process(scratch / f"images_{count}",
                                                    scratch / f"examples_{count}", image_size)))
    print("\npeak resident memory of the in-process ingest (a fresh process per size):")
    for count, result in rows:
        if result["written"] != count:
            raise SystemExit(f"the memory run of {count} images wrote {result['written']}")
        print(f"  {count:6d} images  peak {result['peak_mib']:7.0f} MiB  "
              f"({result['peak_mib'] - result['after_imports_mib']:6.0f} MiB over the "
              f"{result['after_imports_mib']:.0f} MiB after importing TFX)")
    (small, first), (large, last) = rows[0], rows[-1]
    growth = (last["peak_mib"] - first["peak_mib"]) / (large - small) * 1000
    print(f"  growth: {growth:.1f} MiB per 1,000 images (from {small} to {large} images)")


def timed(function, *args) -> tuple[int, float]:
    start = time.perf_counter()
    count = function(*args)
    return count, time.perf_counter() - start


def throughput_table(scratch: pathlib.Path, images: int, workers: int,
                     options: IngestOptions) -> None:
    generate_folder(scratch / "images", images)
    import components.ingest.component  # noqa: F401  (TFX import, not timed)

    results = {"plain loop (1 process)": timed(plain_loop, scratch / "images",
                                               scratch / "loop.tfrecord.gz", options)}
    results["Beam ExampleGen, in-process"] = timed(
        beam_ingest, scratch / "images", scratch / "in_process", options,
        ["--runner=FnApiRunner"])
    results[f"Beam ExampleGen, multi-process x{workers}"] = timed(
        beam_ingest, scratch / "images", scratch / "multi_process", options,
        ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"])

    baseline = images / results["plain loop (1 process)"][1]
    size = options.spec.size
    print(f"\ningest benchmark: {images} images (JPEG and PNG, 64x96 to 160x90) "
          f"to {size}x{size} RGB, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} (shared machine: figures are noisy)")
    for name, (count, seconds) in results.items():
        if count != images:
            raise SystemExit(f"{name} wrote {count} examples, expected {images}")
        rate = count / seconds
        print(f"  {name:<36} {seconds:7.1f} s  {rate:8.0f} images/s  "
              f"{rate / baseline:5.2f}x the loop")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4000,
                        help="folder size for the throughput comparison (0: skip it)")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-sizes", type=int, nargs="*", default=[1000, 4000, 8000],
                        help="folder sizes for the memory measurement (none: skip it)")
    parser.add_argument("--measure-memory-of", type=pathlib.Path, help=argparse.SUPPRESS)
    parser.add_argument("--memory-output", type=pathlib.Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    options = IngestOptions(ImageSpec(args.image_size, 3))
    if args.measure_memory_of:  # the child process of `memory_in_fresh_process`
        print(json.dumps(measure_memory(args.measure_memory_of, args.memory_output, options)))
        return

    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as scratch:
        if args.images:
            throughput_table(pathlib.Path(scratch) / "throughput", args.images, args.workers,
                             options)
        if len(args.memory_sizes) >= 2:
            memory_table(pathlib.Path(scratch) / "memory", sorted(args.memory_sizes),
                         args.image_size)


if __name__ == "__main__":
    main()
