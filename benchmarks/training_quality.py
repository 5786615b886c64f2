"""Quality for the time spent: our trainer with the `make run` defaults vs the TensorFlow
DCGAN tutorial's loop, each given the same wall-clock budget on the bundled digits.

    .venv/bin/python -m benchmarks.training_quality

FID is measured as the FidEvaluator measures it: domain-classifier features,
generated images quantized to uint8, against a held-out split, beside the floor
(the FID between training images and that split). Ours is the generator our
Trainer exports, trained with the pipeline's defaults; its wall-clock time
(snapshot scoring, checkpoints and restarts included) is the budget, and the two
take turns. The reference trains for the same time and is scored every few hundred
steps on the held-out split itself (time spent scoring is not charged to it), and
its best score is reported: a generous reading of the reference.
"""
from __future__ import annotations

import tempfile
import time

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf

from benchmarks.training import TutorialDcgan, digits_dataset
from modules import metrics
from modules.data import ImageStream
from modules.domain_classifier import TrainingImages, cached_domain_classifier
from modules.fid_cache import FidCache
from modules.images import from_uint8
from modules.snapshot_selection import CheapFid
from modules.trainer import train
from pipeline.bundled_data import digits_as_uint8
from pipeline.configs import PipelineConfig

REFERENCE_SCORE_EVERY_STEPS = 250
OUR_TURN_STEPS = 1000


def main() -> None:
    pipeline = PipelineConfig()
    config, steps = pipeline.training, pipeline.training.train_steps
    samples = pipeline.evaluation.fid_num_samples
    pixels, labels = digits_as_uint8()
    order = np.random.default_rng(0).permutation(len(pixels))
    train_count = int(len(pixels) * pipeline.ingest.train_fraction)
    train_pixels, train_labels = pixels[order[:train_count]], labels[order[:train_count]]
    held_out = pixels[order[train_count:]]
    with tempfile.TemporaryDirectory() as work_dir:
        # The FidEvaluator's classifier; the Trainer finds it in the cache, as in the pipeline.
        cache = FidCache(f"{work_dir}/fid_cache")
        training_images = TrainingImages.select([(train_pixels[..., None], train_labels)])
        classifier, _ = cached_domain_classifier(training_images, config.seed, cache)
        # Scored as the snapshot selection scores (quantized samples, classifier features),
        # but against the held-out digits.
        score = CheapFid(classifier, from_uint8(held_out)[..., None], samples,
                         config.latent_dim, config.seed)
        floor_sample = np.random.default_rng(config.seed).permutation(train_count)
        floor = metrics.fid(score.real_features, classifier.features(
            from_uint8(train_pixels[floor_sample[:samples], ..., None])))
        print(f"{steps} steps of the make-run trainer ({config.batch_size} "
              f"images per step) on {train_count} digits; FID against {len(held_out)} held-out "
              f"digits, {samples} samples; floor (training vs held-out) "
              f"{floor:.4f}")
        start = time.perf_counter()
        cheap_fid = CheapFid.from_training_images("domain_classifier", training_images,
                                                  config.selection_samples, config.latent_dim,
                                                  config.seed, cache)
        stream = ImageStream(lambda order: tf.data.Dataset.from_tensor_slices(
            from_uint8(train_pixels)[..., None]))
        budget = time.perf_counter() - start
        reference = TutorialDcgan(config)
        batches = iter(digits_dataset(config.batch_size, train_pixels, config.seed))
        reference_steps, reference_seconds = 0, 0.0
        best_fid, best_step = float("inf"), 0
        # Taking turns, so load from other jobs hits both alike: our Trainer trains to the
        # next stop and exits (resuming exactly from its checkpoint at the next turn; the
        # restart is charged to it), then the reference trains until it has had as much time.
        for stop in range(OUR_TURN_STEPS, steps + OUR_TURN_STEPS, OUR_TURN_STEPS):
            start = time.perf_counter()
            result = train(config, stream, min(stop, steps), f"{work_dir}/run",
                           f"{work_dir}/checkpoints", cheap_fid)
            budget += time.perf_counter() - start
            while reference_seconds < budget:
                start = time.perf_counter()
                reference.train(batches, REFERENCE_SCORE_EVERY_STEPS)
                reference_seconds += time.perf_counter() - start
                reference_steps += REFERENCE_SCORE_EVERY_STEPS
                fid = score(reference.generator)
                if fid < best_fid:
                    best_fid, best_step = fid, reference_steps
    ours = score(result.export_generator)
    print(f"  ours (exported generator)   FID {ours:7.4f}  {ours / floor:5.2f}x floor  "
          f"{steps} steps in {budget:.0f} s")
    print(f"  tutorial loop, best score   FID {best_fid:7.4f}  {best_fid / floor:5.2f}x floor  "
          f"at step {best_step} of {reference_steps} in {reference_seconds:.0f} s")
    print(f"  reference FID / ours: {best_fid / ours:.2f}x")


if __name__ == "__main__":
    main()
