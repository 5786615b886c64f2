"""Checkpoints: a killed run resumes from its last checkpoint; a diverged run never exports."""
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

from modules.checkpointing import NonFiniteTrainingError, checkpoint_directory
from modules.trainer import train
from modules.training_config import TrainerConfig
from tests.training_worker import TINY, pixel_batches_of

TOTAL_STEPS = 600
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(tmp_path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.training_worker", str(tmp_path / "run"),
         str(tmp_path / "checkpoints"), str(TOTAL_STEPS)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


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


def test_a_killed_run_resumes_from_its_last_checkpoint_and_ends_at_the_same_step(tmp_path):
    process = worker(tmp_path)
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

    rerun = worker(tmp_path)
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["start_step"] == last_checkpoint
    assert result["final_step"] == TOTAL_STEPS
    # Images seen were restored with the step, not counted from zero by the re-run.
    assert result["images_seen"] == TOTAL_STEPS * TINY["batch_size"]
    assert latest_checkpointed_step(tmp_path / "checkpoints") == TOTAL_STEPS


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
CORRUPT = np.full_like(IMAGES, np.nan)


def test_a_diverged_run_stops_with_a_clear_error_and_checkpoints_nothing_non_finite(tmp_path):
    with pytest.raises(NonFiniteTrainingError, match="diverged at step 1: .*not finite"):
        train(CONFIG, pixel_batches_of(CORRUPT, 16), 50, str(tmp_path / "run"),
              str(tmp_path / "checkpoints"))
    assert checkpointed_steps(tmp_path / "checkpoints") == [0]


def test_rollback_returns_to_the_last_good_checkpoint_and_gives_up_after_max_rollbacks(tmp_path):
    config = dataclasses.replace(CONFIG, on_non_finite="rollback", max_rollbacks=2)
    with pytest.raises(NonFiniteTrainingError, match="after 2 rollbacks"):
        train(config, pixel_batches_of(CORRUPT, 16), 50, str(tmp_path / "run"),
              str(tmp_path / "checkpoints"))

    seeds = []

    def corrupt_once(shuffle_seed):
        seeds.append(shuffle_seed)
        return pixel_batches_of(CORRUPT if len(seeds) == 1 else IMAGES, 16)(shuffle_seed)

    result = train(config, corrupt_once, 30, str(tmp_path / "run2"), str(tmp_path / "ckpt2"))
    assert result.rollbacks == 1 and result.gan.step == 30
    assert len(set(seeds)) == 2  # the rollback saw a differently shuffled data stream
