"""Our TFX components, one package per stage: `ingest`, `validation`, `evaluation`, `push`.

Each stage's component is `<stage>/component.py`; the rest of the package is the
code it runs and the stage's settings.
"""
import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS before TensorFlow loads)
