"""The GAN pipeline: one `create_pipeline()` factory and the runners that call it."""
import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS before TensorFlow loads)
