"""A tiny training run on in-memory images, as its own process: the resume test kills one,
the multi-worker test runs two under TF_CONFIG.

    python -m tests.training_worker RUN_DIR CHECKPOINT_DIR TRAIN_STEPS WEIGHTS_FILE

Runs with TensorFlow's op determinism on, so runs over the same steps and data can be
compared bit for bit. Saves the final training state (both networks, the EMA generator,
both optimizers) to WEIGHTS_FILE (.npz) and prints one JSON line: the step it started
from, the step it ended at, images seen.
"""
import json
import sys

import numpy as np

TINY = dict(latent_dim=8, generator_filters=8, discriminator_filters=8, batch_size=16,
            steps_per_execution=1, checkpoint_every_steps=20, log_every_steps=100,
            sample_every_steps=10_000, ema_half_life_images=1000,
            diff_augment="translation,cutout", augment_target=0.6)
# Not a multiple of the batch size: batches run across epoch ends.
IMAGE_COUNT = 250


def stream_of(images: np.ndarray):
    """An `ImageStream` over in-memory images."""
    import tensorflow as tf

    from modules.data import ImageStream

    return ImageStream(lambda order: tf.data.Dataset.from_tensor_slices(images))


def training_state(gan) -> list[np.ndarray]:
    """The weights and optimizer state two runs are compared by, in a fixed order."""
    variables = (gan.generator.weights + gan.discriminator.weights
                 + gan.ema_generator.weights + gan.generator_optimizer.variables()
                 + gan.discriminator_optimizer.variables() + [gan.augment_probability])
    return [variable.numpy() for variable in variables]


def main(run_dir: str, checkpoint_dir: str, train_steps: int, weights_file: str) -> None:
    import tensorflow as tf

    from modules.training.trainer import train
    from modules.training.config import TrainerConfig

    tf.config.experimental.enable_op_determinism()
    config = TrainerConfig(**TINY)
    images = np.random.default_rng(0).uniform(-1, 1, (IMAGE_COUNT, 8, 8, 1)).astype(np.float32)
    result = train(config, stream_of(images), train_steps, run_dir, checkpoint_dir)
    np.savez(weights_file, *training_state(result.gan))
    print(json.dumps({"start_step": result.start_step, "final_step": result.gan.step,
                      "images_seen": int(result.gan.images_seen.numpy())}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
