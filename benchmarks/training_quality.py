"""Quality for the time spent: our Trainer's GAN (with its training plan for this machine,
so in mixed bfloat16 on a CPU with AMX) vs the TensorFlow DCGAN tutorial's loop around the
same networks (in float32, as the tutorial), each given the same wall-clock budget, on
each kind of data (`benchmarks.datasets`).

    .venv/bin/python -m benchmarks.training_quality [--kinds digits rgb_photos]
                                                    [--budget-seconds 600]

The two take turns in one process (a slice of training each, in alternating order), so
load from other jobs hits both alike; each is timed to the end of its last step. Every
`--checkpoint-seconds` of its own training time a contender's generator (ours: the EMA
one it exports) is snapshotted. Both pick their best snapshot so far by the rule our
Trainer uses: a FID against training images
(`modules.training.snapshot_selection.CheapFid`), never against the held-out images. The
picked snapshot is then scored as the FidEvaluator scores: the gate's extractor for the
data (domain classifier for labeled digits, self-supervised otherwise), generated images
quantized to uint8, against a held-out split, in units of the floor (the FID between
training and held-out images).

Printed per data set: the curve (FID / floor at each checkpoint) and the time ours needs
to reach the reference's best-in-budget FID, as a share of the budget.
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from typing import Callable

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np

from benchmarks import datasets
from benchmarks.timing import load_average
from benchmarks.training import PHOTO_COUNT, TutorialDcgan, image_dataset
from modules.images import from_uint8, to_uint8
from modules.keras import keras
from modules.quality import metrics
from modules.quality.fid_cache import FidCache
from modules.quality.trained_extractors import cached_trained_extractor, training_images
from modules.training.config import TrainerConfig
from modules.training.plan import plan_training
from modules.training.snapshot_selection import CheapFid
from modules.training.trainer import build_gan, this_machine
from pipeline.configs import PipelineConfig

SLICE_SECONDS = 30.0


@dataclasses.dataclass
class Contender:
    """One training loop, advanced a slice of seconds at a time, and its snapshots."""

    name: str
    generator: keras.Model           # what gets snapshotted
    advance: Callable[[float], float]  # trains about this long; returns the time it took
    seconds: float = 0.0
    snapshots: list = dataclasses.field(default_factory=list)  # (seconds, weights)


class _StopAfter(keras.callbacks.Callback):
    """Stops `fit` once `seconds` have passed, and records when its last step ended."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self.start = self.ended = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.ended = time.perf_counter()
        if self.ended - self.start >= self.seconds:
            self.model.stop_training = True


def ours(config: TrainerConfig, train_pixels: np.ndarray) -> Contender:
    gan = build_gan(config)
    batches = image_dataset(train_pixels, config.batch_size * config.discriminator_steps,
                            config.seed)

    def advance(seconds: float) -> float:
        stop = _StopAfter(seconds)
        gan.fit(batches, epochs=1, steps_per_epoch=10 ** 9, callbacks=[stop], verbose=0)
        return stop.ended - stop.start
    return Contender("ours", gan.inference_generator, advance)


def reference(config: TrainerConfig, train_pixels: np.ndarray) -> Contender:
    loop = TutorialDcgan(config)
    batches = iter(image_dataset(train_pixels, config.batch_size, config.seed))

    def advance(seconds: float) -> float:
        trained = 0.0
        while trained < seconds:
            trained += loop.train(batches, 10)
        return trained
    return Contender("tutorial loop", loop.generator, advance)


def run_turns(contenders: list[Contender], budget: float, checkpoint: float) -> None:
    """Slices in alternating order until each has trained `budget` seconds."""
    for turn in range(int(np.ceil(budget / SLICE_SECONDS))):
        for contender in (contenders if turn % 2 == 0 else contenders[::-1]):
            before = contender.seconds
            contender.seconds += contender.advance(min(SLICE_SECONDS, budget - before))
            # Snapshot at each checkpoint passed (slices are shorter than checkpoints).
            if int(contender.seconds // checkpoint) > int(before // checkpoint):
                contender.snapshots.append(
                    (contender.seconds, [w.copy() for w in contender.generator.get_weights()]))


def score_curve(contender: Contender, selection: CheapFid, held_out_fid) -> list[tuple]:
    """(seconds, held-out FID of the snapshot the selection rule picks by then)."""
    picked, best, curve = None, np.inf, []
    for seconds, weights in contender.snapshots:
        contender.generator.set_weights(weights)
        cheap = selection(contender.generator)
        if cheap < best:
            best, picked = cheap, held_out_fid(contender.generator)
        curve.append((seconds, picked))
    return curve


def benchmark(kind: str, budget: float, checkpoint: float, cache: FidCache) -> None:
    pipeline = PipelineConfig()
    pixels, labels = datasets.build(kind, None if kind == "digits" else PHOTO_COUNT)
    train_count = int(len(pixels) * pipeline.ingest.train_fraction)
    train_pixels, held_out = pixels[:train_count], pixels[train_count:]
    train_labels = labels[:train_count] if labels is not None else np.full(train_count, -1)
    extractor_name = metrics.resolve_extractor(pipeline.evaluation.extractor,
                                               metrics.count_classes(train_labels))
    spec = dict(image_size=pixels.shape[1], channels=pixels.shape[3])
    plan = plan_training(dataclasses.replace(pipeline.training, **spec), train_count,
                         this_machine())
    config = plan.config
    images = training_images(extractor_name, [(train_pixels, train_labels)])
    extractor, _ = cached_trained_extractor(extractor_name, images, config.seed, cache)
    real = extractor.features(from_uint8(held_out))
    samples = pipeline.evaluation.fid_num_samples
    floor_sample = np.random.default_rng(config.seed).permutation(train_count)[:samples]
    floor = metrics.fid(real, extractor.features(from_uint8(train_pixels[floor_sample])))
    noise = np.random.default_rng(config.seed + 1).standard_normal(
        (samples, config.latent_dim)).astype(np.float32)

    def held_out_fid(generator: keras.Model) -> float:
        fake = to_uint8(generator.predict(noise, batch_size=500, verbose=0))
        return metrics.fid(real, extractor.features(from_uint8(fake))) / floor

    selection = CheapFid.from_training_images(extractor_name, images, config.selection_samples,
                                              config.latent_dim, config.seed, cache)
    print(f"\n{kind}: {train_count} training, {len(held_out)} held-out images of "
          f"{pixels.shape[1]}x{pixels.shape[2]}x{pixels.shape[3]}; {extractor_name} extractor, "
          f"floor {floor:.4f}; budget {budget:.0f} s each; {load_average()}", flush=True)
    print("\n".join("  " + line for line in plan.lines()), flush=True)
    contenders = [ours(config, train_pixels), reference(config, train_pixels)]
    run_turns(contenders, budget, checkpoint)
    curves = {c.name: score_curve(c, selection, held_out_fid) for c in contenders}
    print(f"  {'seconds':>8s} " + " ".join(f"{c.name:>16s}" for c in contenders))
    for row in zip(*curves.values()):
        print(f"  {row[0][0]:8.0f} " + " ".join(f"{fid:15.2f}x" for _, fid in row))
    target = curves["tutorial loop"][-1][1]
    reached = next((seconds for seconds, fid in curves["ours"] if fid <= target), None)
    verdict = (f"at {reached:.0f} s = {reached / budget:.2f} of the budget" if reached
               else "not within the budget")
    print(f"  reference's best in budget {target:.2f}x the floor; ours reaches it {verdict}; "
          f"{load_average()}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", choices=datasets.KINDS, default=datasets.KINDS)
    parser.add_argument("--budget-seconds", type=float, default=600.0)
    parser.add_argument("--checkpoint-seconds", type=float, default=60.0)
    args = parser.parse_args()
    if args.checkpoint_seconds < SLICE_SECONDS:
        parser.error(f"--checkpoint-seconds must be at least {SLICE_SECONDS:.0f}")
    with tempfile.TemporaryDirectory() as work_dir:
        for kind in args.kinds:
            benchmark(kind, args.budget_seconds, args.checkpoint_seconds,
                      FidCache(f"{work_dir}/fid_cache"))


if __name__ == "__main__":
    main()
