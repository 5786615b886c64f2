"""Serving throughput: the exported signatures against a bare tf.function, per precision.

    .venv/bin/python -m benchmarks.serving

Exports a generator with the default architecture (8x8x1, latent 64; weights do
not affect speed), calls the loaded SavedModel the way a model server does, and
times, in turns within one run:
- `generate` (noise from a seed, the generator, PNG encoding, request checks)
  against a bare tf.function doing the same work on the in-memory Keras generator;
- `serving_default` against a bare tf.function around the generator alone;
- the float16 and int8 copies (`modules.export.export_compressed`) through the same
  signatures, with their size on disk.
Prints images/s and the signature/bare ratio at batch 1 and 256 (target: >= 0.9).
"""
from __future__ import annotations

import os
import tempfile

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import tensorflow as tf

from benchmarks.timing import interleaved_median_seconds
from modules.export import (COMPRESSED_PRECISIONS, export_compressed, export_generator,
                            keras_images_fn)
from modules.training.config import TrainerConfig
from modules.training.networks import build_generator
from modules.training.plan import plan_training
from modules.training.trainer import this_machine
from pipeline.bundled_data import digits_as_uint8

CALLS_PER_REPEAT = {1: 200, 256: 20}
TARGET_RATIO = 0.9


def directory_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


def bare_functions(generator, latent_dim: int):
    """The same work as `serve` and `generate`, without the SavedModel or the checks."""
    images_fn = keras_images_fn(generator)

    @tf.function(input_signature=[tf.TensorSpec([None, latent_dim], tf.float32)])
    def serve(noise):
        return images_fn(noise)

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int64)])
    def generate(num_samples, seed):
        noise = tf.random.stateless_normal(tf.stack([num_samples, latent_dim]),
                                           seed=tf.stack([seed, tf.constant(0, tf.int64)]))
        pixels = tf.cast(tf.round(images_fn(noise) * 255.0), tf.uint8)
        return tf.map_fn(tf.io.encode_png, pixels, fn_output_signature=tf.string)

    return serve, generate


def main() -> None:
    # The make-run generator: the plan for the bundled digits.
    config = plan_training(TrainerConfig(), len(digits_as_uint8()[0]), this_machine()).config
    generator = build_generator(config.image_spec, config.network_config)
    bare_serve, bare_generate = bare_functions(generator, config.latent_dim)
    with tempfile.TemporaryDirectory() as scratch:
        paths = {"float32": os.path.join(scratch, "float32")}
        export_generator(generator, paths["float32"], {"latent_dim": config.latent_dim})
        for precision in COMPRESSED_PRECISIONS:
            paths[precision] = os.path.join(scratch, precision)
            export_compressed(paths["float32"], paths[precision], precision)
        signatures = {precision: tf.saved_model.load(path).signatures
                      for precision, path in paths.items()}
        print(f"serving throughput, {config.image_size}x{config.image_size}x{config.channels} "
              f"generator, TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, load "
              f"{os.getloadavg()[0]:.1f}; median of 5 interleaved repeats")
        for precision, path in paths.items():
            print(f"  {precision:8s} size on disk {directory_bytes(path) / 1024:8.1f} KiB")
        for batch, calls in CALLS_PER_REPEAT.items():
            noise = tf.random.normal([batch, config.latent_dim])
            count = tf.constant(batch)

            def repeat(call):
                def run():
                    for seed in range(calls):
                        call(tf.constant(seed, tf.int64))
                return run

            contenders = {"bare serve": repeat(lambda seed: bare_serve(noise)),
                          "bare generate": repeat(lambda seed: bare_generate(count, seed))}
            for precision, signature in signatures.items():
                contenders[f"{precision} serving_default"] = repeat(
                    lambda seed, s=signature: s["serving_default"](noise=noise))
                contenders[f"{precision} generate"] = repeat(
                    lambda seed, s=signature: s["generate"](num_samples=count, seed=seed))
            seconds = interleaved_median_seconds(contenders)
            print(f" batch {batch}:")
            for name, duration in seconds.items():
                bare = seconds["bare serve" if name.endswith("serving_default")
                               else "bare generate"]
                ratio = "" if name.startswith("bare") else f"  ratio to bare {bare / duration:.2f}"
                print(f"  {name:24s} {batch * calls / duration:9.0f} images/s "
                      f"({1000 * duration / calls:.2f} ms/call){ratio}")
            for kind, bare_name in (("generate", "bare generate"),
                                    ("serving_default", "bare serve")):
                ratio = seconds[bare_name] / seconds[f"float32 {kind}"]
                verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
                print(f"  float32 {kind} / bare at batch {batch}: {ratio:.2f} ({verdict} the "
                      f"{TARGET_RATIO} target)")


if __name__ == "__main__":
    main()
