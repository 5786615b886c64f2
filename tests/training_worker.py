"""A tiny training run on in-memory images, as its own process (the resume test kills it).

    python -m tests.training_worker RUN_DIR CHECKPOINT_DIR TRAIN_STEPS

Prints one JSON line: the step it started from, the step it ended at, images seen.
"""
import json
import sys

import numpy as np

TINY = dict(latent_dim=8, generator_filters=8, discriminator_filters=8, batch_size=16,
            steps_per_execution=1, checkpoint_every_steps=20, log_every_steps=100,
            sample_every_steps=10_000, ema_decay=0.99)


def pixel_batches_of(images: np.ndarray, batch_size: int):
    import tensorflow as tf

    def pixel_batches(shuffle_seed: int) -> tf.data.Dataset:
        return (tf.data.Dataset.from_tensor_slices(images).shuffle(len(images), seed=shuffle_seed)
                .repeat().batch(batch_size, drop_remainder=True))
    return pixel_batches


def main(run_dir: str, checkpoint_dir: str, train_steps: int) -> None:
    from modules.trainer import train
    from modules.training_config import TrainerConfig

    config = TrainerConfig(**TINY)
    images = np.random.default_rng(0).uniform(-1, 1, (256, 8, 8, 1)).astype(np.float32)
    result = train(config, pixel_batches_of(images, config.batch_size), train_steps, run_dir,
                   checkpoint_dir)
    print(json.dumps({"start_step": result.start_step, "final_step": result.gan.step,
                      "images_seen": int(result.gan.images_seen.numpy())}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
