"""Serving throughput: images per second through the exported signatures on this CPU.

    .venv/bin/python -m benchmarks.serving

Exports a generator with the default architecture (8x8x1, latent 64; weights do
not affect speed) and calls the loaded SavedModel the way a model server does.
"""
from __future__ import annotations

import tempfile

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import tensorflow as tf

from benchmarks.timing import median_seconds
from modules.export import export_generator
from modules.networks import build_generator
from modules.training_config import TrainerConfig

CALLS_PER_REPEAT = {1: 200, 256: 20}


def main() -> None:
    config = TrainerConfig()
    with tempfile.TemporaryDirectory() as export_dir:
        export_generator(build_generator(config.image_spec, config.network_config), export_dir,
                         {"latent_dim": config.latent_dim})
        model = tf.saved_model.load(export_dir)
        serve, generate = model.signatures["serving_default"], model.signatures["generate"]
        print(f"serving throughput, {config.image_size}x{config.image_size}x{config.channels} "
              f"generator, {tf.__version__}, median of 5 repeats")
        for batch, calls in CALLS_PER_REPEAT.items():
            noise = tf.random.normal([batch, config.latent_dim])

            def call_serving_default():
                for _ in range(calls):
                    serve(noise=noise)

            def call_generate():
                for seed in range(calls):
                    generate(num_samples=tf.constant(batch), seed=tf.constant(seed, tf.int64))

            for name, run in (("serving_default", call_serving_default),
                              ("generate (+PNG)", call_generate)):
                seconds = median_seconds(run)
                print(f"  {name:16s} batch {batch:3d}: {batch * calls / seconds:10.0f} images/s "
                      f"({1000 * seconds / calls:.2f} ms/call)")


if __name__ == "__main__":
    main()
