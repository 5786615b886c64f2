"""Strategy selection; the GAN training under MirroredStrategy over two logical CPUs, and
under MultiWorkerMirroredStrategy as two worker processes."""
import contextlib
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np

from modules.training.distribution import cluster_workers
from tests.training_worker import TINY

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Its own process: logical devices must be configured before TensorFlow initializes.
MIRRORED_TRAINING = r"""
import json
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from modules.training.config import TrainerConfig
from modules.training.plan import plan_training
from modules.training.trainer import build_gan, this_machine
from tests.training_worker import IMAGE_COUNT, TINY
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
gan = build_gan(plan_training(TrainerConfig(**{**TINY, "steps_per_execution": 2}),
                              IMAGE_COUNT, this_machine()).config, strategy)
images = np.random.default_rng(0).uniform(-1, 1, (64, 8, 8, 1)).astype(np.float32)
history = gan.fit(tf.data.Dataset.from_tensor_slices(images).batch(16).repeat(), epochs=1,
                  steps_per_epoch=4, verbose=0)
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "step": gan.step,
                  "images_seen": int(gan.images_seen.numpy()),
                  "loss": [float(v) for v in history.history["generator_loss"]],
                  "discriminator_loss": history.history["discriminator_loss"][-1],
                  "d_real": history.history["d_real"][-1],
                  "ema_finite": all(bool(np.isfinite(w.numpy()).all())
                                    for w in gan.ema_generator.weights)}))
"""


def test_gan_trains_under_mirrored_strategy_on_two_devices():
    completed = subprocess.run([sys.executable, "-c", MIRRORED_TRAINING], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=300,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2 and result["step"] == 4
    # Both replicas' halves of each 16-image batch are counted.
    assert result["images_seen"] == 4 * 16
    assert all(map(lambda v: v == v, result["loss"])) and result["ema_finite"]
    # Logged values are means over the replicas, not sums: a few steps in, D's loss is
    # still near 2 ln 2 (1.39; the sum over two replicas would be near 2.8) and D(x)
    # is a probability.
    assert 1.0 < result["discriminator_loss"] < 2.0
    assert 0.0 < result["d_real"] < 1.0


def test_cluster_workers_come_from_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert cluster_workers() == 0
    monkeypatch.setenv("TF_CONFIG", json.dumps({
        "cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]},
        "task": {"type": "worker", "index": 0}}))
    assert cluster_workers() == 3


def free_ports(count: int) -> list[int]:
    """Ports no socket is bound to, distinct (all bound at once before any is released).
    They cannot be held for the workers: TensorFlow's gRPC server binds them itself and
    refuses to share them (no SO_REUSEPORT)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for one in sockets:
            one.bind(("127.0.0.1", 0))
        return [one.getsockname()[1] for one in sockets]
    finally:
        for one in sockets:
            one.close()


def wait_for_all(processes: list[subprocess.Popen], logs: list, timeout: float) -> None:
    """Waits for every process; when one fails, kills the others (they would wait for it in
    a collective). `logs`: each process's stderr file, shown on failure."""
    deadline = time.monotonic() + timeout
    try:
        while any(process.poll() is None for process in processes):
            assert time.monotonic() < deadline, "the workers did not finish:\n" + "\n".join(
                log.read_text()[-2000:] for log in logs)
            time.sleep(0.1)
            for process, log in zip(processes, logs):
                assert process.returncode in (None, 0), log.read_text()[-3000:]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_two_workers_train_through_the_trainer_in_lockstep(tmp_path):
    """Both workers write to the same run and checkpoint folders, as on a cluster with
    shared storage; only the chief's files may land there."""
    steps = 30  # checkpoints at 0, 20 (TINY's interval) and 30
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    outputs = [(tmp_path / f"worker{index}.out", tmp_path / f"worker{index}.err")
               for index in range(2)]
    with contextlib.ExitStack() as files:
        workers = [subprocess.Popen(
            [sys.executable, "-m", "tests.training_worker", str(tmp_path / "run"),
             str(tmp_path / "checkpoints"), str(steps), str(tmp_path / f"worker{index}.npz")],
            cwd=PROJECT_ROOT, stdout=files.enter_context(stdout.open("w")),
            stderr=files.enter_context(stderr.open("w")),
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
                 "TF_CONFIG": json.dumps({"cluster": cluster,
                                          "task": {"type": "worker", "index": index}})})
            for index, (stdout, stderr) in enumerate(outputs)]
        wait_for_all(workers, [stderr for _, stderr in outputs], timeout=600)

    # The global batch is counted once, not once per worker.
    assert [json.loads(stdout.read_text().strip().splitlines()[-1])
            for stdout, _ in outputs] == [
        {"start_step": 0, "final_step": steps, "images_seen": steps * TINY["batch_size"]}] * 2
    chief, other = np.load(tmp_path / "worker0.npz"), np.load(tmp_path / "worker1.npz")
    assert len(chief.files) > 0
    for name in chief.files:
        np.testing.assert_array_equal(chief[name], other[name], err_msg=name)
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["checkpoint"] + sorted(
        f"ckpt-{step}.{suffix}" for step in (0, 20, 30)
        for suffix in ("data-00000-of-00001", "index"))
    assert len(os.listdir(tmp_path / "run" / "train")) == 1  # one TensorBoard log: the chief's
