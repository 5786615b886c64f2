"""Where the quality gate's defaults come from: what a trained generator scores, and what
the generators the gate must refuse score, in the units the gate uses.

    .venv/bin/python -m benchmarks.gate_calibration [--digits-steps 6000 --rgb-steps 2000]

For each data kind and extractor, scored exactly as the FidEvaluator scores (same
sample counts, the floor from as many training images as generated samples, the
eval split as the reference), it prints FID in floor units, precision and recall of:

- the generator the `make run` trainer exports (trained here, from the pipeline's
  defaults), and a partly trained one (its first snapshot);
- held-out real images (a perfect generator: what the metrics give at best);
- a constant image (the mean colour), uniform noise, one training image repeated.

Data: the bundled digits with the domain classifier; `benchmarks.datasets.rgb_photos`
(32x32 RGB) with a `saved_model` extractor (4x4 average pooling of the pixels, 48-d:
the plain feature model a user without Inception weights might supply).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf

from benchmarks import datasets
from components.evaluation import extractors
from components.evaluation import scoring
from modules.data import ImageStream
from modules.images import from_uint8, to_uint8
from modules.keras import keras
from modules.quality import metrics
from modules.quality.domain_classifier import TrainingImages
from modules.quality.fid_cache import FidCache
from modules.training.plan import plan_training
from modules.training.snapshot_selection import CheapFid
from modules.training.trainer import this_machine, train
from components.evaluation.gate import EvaluationConfig, EvaluationSettings
from pipeline.configs import PipelineConfig


def average_pooling_extractor(path: str, size: int, channels: int, cells: int = 4) -> str:
    """A SavedModel following the `saved_model` extractor contract: mean pixel per cell."""
    class Pooling(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, size, size, channels], tf.float32)])
        def serve(self, images):
            pooled = tf.nn.avg_pool2d(images / 255.0, size // cells, size // cells, "VALID")
            return {"features": tf.reshape(pooled, [-1, cells * cells * channels])}

    module = Pooling()
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    return path


def trained_generators(train_pixels: np.ndarray, train_labels: np.ndarray | None,
                       steps: int | None, work_dir: str) -> dict[str, keras.Model]:
    """The `make run` trainer's exported generator, and the one it had after a tenth of
    the steps (default: the training plan's), trained on `train_pixels` (snapshot selection
    on when labels exist)."""
    pipeline = PipelineConfig()
    spec_size, channels = train_pixels.shape[1], train_pixels.shape[3]
    config = dataclasses.replace(pipeline.training, image_size=spec_size, channels=channels)
    steps = steps or plan_training(config, len(train_pixels),
                                    this_machine()).config.train_steps
    cache = FidCache(os.path.join(work_dir, "fid_cache"))
    cheap_fid = None if train_labels is None else CheapFid.from_training_images(
        "domain_classifier", TrainingImages.select([(train_pixels, train_labels)]), config.selection_samples,
        config.latent_dim, config.seed, cache)
    stream = ImageStream(lambda order: tf.data.Dataset.from_tensor_slices(
        from_uint8(train_pixels)))
    early = train(config, stream, max(1, steps // 10), f"{work_dir}/run",
                  f"{work_dir}/checkpoints", cheap_fid)
    early_generator = keras.models.clone_model(early.export_generator)
    early_generator.set_weights(early.export_generator.get_weights())
    final = train(config, stream, steps, f"{work_dir}/run", f"{work_dir}/checkpoints",
                  cheap_fid)
    return {f"trained, {steps // 10} steps": early_generator,
            f"trained, {steps} steps (exported)": final.export_generator}


def candidates(train_pixels: np.ndarray, held_out: np.ndarray,
               generators: dict[str, keras.Model], count: int, seed: int
               ) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((count, PipelineConfig().training.latent_dim)).astype(np.float32)
    samples = {name: to_uint8(generator.predict(noise, batch_size=512, verbose=0))
               for name, generator in generators.items()}
    mean_colour = train_pixels.reshape(-1, train_pixels.shape[-1]).mean(axis=0)
    samples.update({
        "held-out real images": held_out,
        "constant image (mean colour)": np.broadcast_to(
            np.round(mean_colour).astype(np.uint8), (count,) + train_pixels.shape[1:]).copy(),
        "uniform noise": rng.integers(0, 256, (count,) + train_pixels.shape[1:], np.uint8),
        "one training image repeated": np.repeat(train_pixels[:1], count, axis=0),
    })
    return samples


def report(kind: str, extractor: extractors.FeatureExtractor, train_pixels: np.ndarray,
           eval_pixels: np.ndarray, samples: dict[str, np.ndarray], count: int,
           seed: int) -> None:
    config = EvaluationConfig(EvaluationSettings(fid_num_samples=count), seed=seed)
    real = extractor.features(eval_pixels)
    floor_sample = np.random.default_rng(seed).permutation(len(train_pixels))[:count]
    floor, _ = metrics.fid_or_refusal(real, extractor.features(train_pixels[floor_sample]))
    print(f"\n{kind}, {extractor.identity.split(':')[0]} extractor "
          f"({real.shape[1]}-d): {len(eval_pixels)} eval images, {count} samples, "
          f"floor {floor:.4f}")
    print(f"  {'generator':40s} {'FID/floor':>10s} {'precision':>10s} {'recall':>8s}")
    for name, pixels in samples.items():
        scores = scoring.score(real, extractor.features(pixels[:count]), config)
        ratio = "refused" if scores.fid is None else f"{scores.fid / floor:9.2f}x"
        print(f"  {name:40s} {ratio:>10s} {scores.precision_recall.precision:10.3f} "
              f"{scores.precision_recall.recall:8.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--digits-steps", type=int, default=None,
                        help="default: the training plan's")
    parser.add_argument("--rgb-steps", type=int, default=None,
                        help="default: the training plan's")
    parser.add_argument("--rgb-count", type=int, default=1500)
    args = parser.parse_args()
    pipeline = PipelineConfig()
    count, seed = pipeline.evaluation.fid_num_samples, pipeline.training.seed
    with tempfile.TemporaryDirectory() as work_dir:
        pixels, labels = datasets.digits(seed=seed)
        train_count = int(len(pixels) * pipeline.ingest.train_fraction)
        train_pixels, eval_pixels = pixels[:train_count], pixels[train_count:]
        extractor = extractors.domain_classifier_extractor(
            train_pixels, labels[:train_count], seed, FidCache(f"{work_dir}/fid_cache"))
        generators = trained_generators(train_pixels, labels[:train_count], args.digits_steps,
                                        f"{work_dir}/digits")
        # Held out from both splits: the training images not in the floor's sample.
        unused = np.random.default_rng(seed).permutation(train_count)[count:]
        report("digits", extractor, train_pixels, eval_pixels,
               candidates(train_pixels, train_pixels[unused], generators, count, seed),
               count, seed)

        photos = datasets.rgb_photos(args.rgb_count, 32, seed)
        train_count = int(len(photos) * pipeline.ingest.train_fraction)
        train_pixels, eval_pixels = photos[:train_count], photos[train_count:]
        extractor = extractors.SavedModelExtractor(
            average_pooling_extractor(f"{work_dir}/pooling", 32, 3))
        generators = trained_generators(train_pixels, None, args.rgb_steps, f"{work_dir}/rgb")
        held_out = datasets.rgb_photos(count, 32, seed + 1)
        report("rgb_photos", extractor, train_pixels, eval_pixels,
               candidates(train_pixels, held_out, generators, count, seed), count, seed)


if __name__ == "__main__":
    main()
