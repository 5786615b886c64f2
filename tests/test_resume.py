"""Checkpoints: a killed run resumes from its last checkpoint and continues exactly as an
uninterrupted run; a diverged run never exports."""
import dataclasses
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from modules.data import ImageStream, stream_seed
from modules.training.checkpointing import NonFiniteTrainingError, checkpoint_directory
from modules.training.config import TrainerConfig
from modules.training.trainer import train
from tests.training_worker import TINY, stream_of

TOTAL_STEPS = 600
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(tmp_path, name: str, checkpoints: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.training_worker", str(tmp_path / f"run_{name}"),
         str(tmp_path / checkpoints), str(TOTAL_STEPS), str(tmp_path / f"{name}.npz")],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def finished(process: subprocess.Popen) -> dict:
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    return json.loads(stdout.strip().splitlines()[-1])


def latest_checkpointed_step(directory) -> int | None:
    """The step of the checkpoint a re-run would restore (from the manager's state file)."""
    try:
        with open(os.path.join(directory, "checkpoint")) as state:
            return int(re.search(r'model_checkpoint_path: "ckpt-(\d+)"', state.read()).group(1))
    except (FileNotFoundError, AttributeError):
        return None


def checkpointed_steps(directory) -> list[int]:
    return sorted(int(re.search(r"ckpt-(\d+)\.index$", path).group(1))
                  for path in glob.glob(os.path.join(directory, "ckpt-*.index")))


def test_a_killed_run_resumes_from_its_last_checkpoint_and_ends_as_an_uninterrupted_run(
        tmp_path):
    uninterrupted = worker(tmp_path, "uninterrupted", "other_checkpoints")
    process = worker(tmp_path, "killed", "checkpoints")
    deadline = time.monotonic() + 240
    while not latest_checkpointed_step(tmp_path / "checkpoints"):
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)  # preemption: no chance to clean up
    process.wait()
    assert process.returncode == -signal.SIGKILL
    last_checkpoint = latest_checkpointed_step(tmp_path / "checkpoints")
    assert 0 < last_checkpoint < TOTAL_STEPS

    result = finished(worker(tmp_path, "resumed", "checkpoints"))
    assert result["start_step"] == last_checkpoint
    assert result["final_step"] == TOTAL_STEPS
    # Images seen were restored with the step, not counted from zero by the re-run.
    assert result["images_seen"] == TOTAL_STEPS * TINY["batch_size"]
    assert latest_checkpointed_step(tmp_path / "checkpoints") == TOTAL_STEPS
    # Same batches, noise and optimizer state after the resume: the same numbers, bit for bit
    # (the worker turns TensorFlow's op determinism on).
    assert finished(uninterrupted)["final_step"] == TOTAL_STEPS
    resumed, expected = np.load(tmp_path / "resumed.npz"), np.load(tmp_path / "uninterrupted.npz")
    assert len(expected.files) == len(resumed.files) > 0
    for name in expected.files:
        np.testing.assert_array_equal(resumed[name], expected[name], err_msg=name)


def test_checkpoint_directory_is_stable_and_follows_settings_and_data():
    settings = {"batch_size": 64}
    first = checkpoint_directory("/ckpt", settings, 100, "data-a")
    assert first == checkpoint_directory("/ckpt", dict(settings), 100, "data-a")
    assert first.startswith("/ckpt/")
    others = {checkpoint_directory("/ckpt", {"batch_size": 32}, 100, "data-a"),
              checkpoint_directory("/ckpt", settings, 200, "data-a"),
              checkpoint_directory("/ckpt", settings, 100, "data-b")}
    assert first not in others and len(others) == 3


CONFIG = TrainerConfig(**{**TINY, "checkpoint_every_steps": 5})
IMAGES = np.random.default_rng(0).uniform(-1, 1, (64, 8, 8, 1)).astype(np.float32)


def test_a_diverged_run_stops_with_a_clear_error_and_checkpoints_nothing_non_finite(tmp_path):
    with pytest.raises(NonFiniteTrainingError, match="diverged at step 1: .*not finite"):
        train(CONFIG, stream_of(np.full_like(IMAGES, np.nan)), 50, str(tmp_path / "run"),
              str(tmp_path / "checkpoints"))
    assert checkpointed_steps(tmp_path / "checkpoints") == [0]


def test_rollback_reads_another_stream_and_the_count_survives_a_resume(tmp_path):
    config = dataclasses.replace(CONFIG, on_non_finite="rollback", max_rollbacks=2)
    with pytest.raises(NonFiniteTrainingError, match="after 2 rollbacks"):
        train(config, stream_of(np.full_like(IMAGES, np.nan)), 50, str(tmp_path / "run"),
              str(tmp_path / "checkpoints"))

    first_stream = stream_seed(config.seed, rollbacks=0)

    def epoch(order):
        """NaN images in the first stream only: the run recovers only if a rollback reads
        another stream."""
        records = tf.data.Dataset.from_tensor_slices(IMAGES)
        return records if order is None else records.map(
            lambda image: tf.where(order[0] == first_stream, np.nan, image))

    corrupt_first = ImageStream(epoch)
    result = train(config, corrupt_first, 30, str(tmp_path / "run2"), str(tmp_path / "ckpt2"))
    assert result.rollbacks == 1 and result.gan.step == 30
    # Without the rollback count from the checkpoint, a resume would read the first stream.
    resumed = train(config, corrupt_first, 40, str(tmp_path / "run2"), str(tmp_path / "ckpt2"))
    assert (resumed.start_step, resumed.rollbacks, resumed.gan.step) == (30, 1, 40)
