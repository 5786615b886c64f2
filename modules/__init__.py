"""User code that TFX loads by module path: preprocessing_fn, run_fn, networks, losses.

tensorflow-transform flips `tf.keras` to Keras 2 as a side effect of being
imported, so the Keras behind `tf.keras` depends on import order. We pin it here,
before anything imports TensorFlow, and build every model with `tf_keras`
explicitly (see `modules.keras`).
"""
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
