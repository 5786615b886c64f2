"""The one Keras this project builds models with: Keras 2 (`tf_keras`).

Both supported stacks ship `tf_keras`, and TFX Transform/Trainer expect Keras 2,
so every model-building module imports Keras from here instead of `tf.keras`.
"""
import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS before TensorFlow loads)
import tf_keras as keras

__all__ = ["keras"]
