"""Custom TFX components: the image ExampleGen and the FID evaluator."""
import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS before TensorFlow loads)
