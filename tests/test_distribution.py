"""Strategy selection, and the GAN training under MirroredStrategy over two logical CPUs."""
import json
import os
import subprocess
import sys

from modules.distribution import cluster_workers

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Its own process: logical devices must be configured before TensorFlow initializes.
MIRRORED_TRAINING = r"""
import json
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from modules.trainer import build_gan
from modules.training_config import TrainerConfig
from tests.training_worker import TINY
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
gan = build_gan(TrainerConfig(**{**TINY, "steps_per_execution": 2}), strategy)
images = np.random.default_rng(0).uniform(-1, 1, (64, 8, 8, 1)).astype(np.float32)
history = gan.fit(tf.data.Dataset.from_tensor_slices(images).batch(16).repeat(), epochs=1,
                  steps_per_epoch=4, verbose=0)
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "step": gan.step,
                  "images_seen": int(gan.images_seen.numpy()),
                  "loss": [float(v) for v in history.history["generator_loss"]],
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


def test_cluster_workers_come_from_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert cluster_workers() == 0
    monkeypatch.setenv("TF_CONFIG", json.dumps({
        "cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]},
        "task": {"type": "worker", "index": 0}}))
    assert cluster_workers() == 3
