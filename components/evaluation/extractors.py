"""Feature extractors for FID, KID and precision/recall, chosen by configuration.

Every extractor takes uint8 images [N, H, W, C] (real and generated images are
quantized identically before they get here) and returns float64 features
[N, D]. `identity` changes whenever the features could change (other weights,
other code), so cached real statistics are keyed by it.

- `domain_classifier`: a small classifier trained with a fixed seed on the
  training split (no downloads; needs labeled data); the same one the Trainer's
  best-snapshot selection uses, shared through the FID cache.
- `self_supervised`: a small encoder trained with a fixed seed on the training
  split by SimCLR's contrastive objective (no downloads, no labels needed; see
  `modules.quality.self_supervised`); shared with the Trainer like the classifier.
- `inception`: Inception-v3 with the standard FID weights, the 2015-12-05 graph
  that TTUR, pytorch-fid and TF-GAN use, read from a path or URL the user gives
  (`classify_image_graph_def.pb`, or the `inception-2015-12-05.tgz` that holds
  it). Features are `pool_3` (2048-d); images are fed as 0..255 floats into the
  graph's `ExpandDims` tensor, so the graph's own bilinear resize to 299x299
  applies, as in the reference implementation. Grayscale is repeated to RGB.
- `saved_model`: any SavedModel (or Keras `.keras`/`.h5` file). Contract: its
  `serving_default` signature takes one float32 tensor [N, H, W, C] of 0..255
  values at the pipeline's image size and channels, and returns one tensor
  whose leading dimension is N (flattened to [N, D]); with several outputs,
  name the one to use as `PATH#output_name`.
"""
from __future__ import annotations

import abc
import io
import os
import tarfile
import urllib.request

import modules  # noqa: F401  (pins TF_USE_LEGACY_KERAS)
import numpy as np
import tensorflow as tf

from modules.images import from_uint8
from modules.quality.fid_cache import FidCache, sha256_hex
from modules.quality.metrics import FID_EXTRACTORS
from modules.quality.trained_extractors import (TRAINED_EXTRACTORS, TrainedModel,
                                                cached_trained_extractor, training_images)

EXTRACTORS = FID_EXTRACTORS
EXTRACTOR_PATH_SETTING = "fid_extractor_path (--fid-extractor-path)"
INCEPTION_GRAPH_FILE = "classify_image_graph_def.pb"
INCEPTION_INPUT = "ExpandDims:0"
INCEPTION_FEATURES = "pool_3:0"


class ExtractorError(ValueError):
    """The configured extractor cannot be used; the message names the setting."""


class FeatureExtractor(abc.ABC):
    identity: str

    @abc.abstractmethod
    def features(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 images [N, H, W, C] to float64 features [N, D]."""


class TrainedExtractor(FeatureExtractor):
    """The domain classifier or the self-supervised encoder
    (`modules.quality.trained_extractors`)."""

    def __init__(self, model: TrainedModel, identity: str):
        self.model = model
        self.identity = identity

    def features(self, pixels):
        return self.model.features(from_uint8(pixels))

    def class_logits(self, pixels: np.ndarray) -> np.ndarray | None:
        """Class logits [N, classes] for the classifier score, or None when the model does
        not classify (the self-supervised encoder)."""
        logits = getattr(self.model, "logits", None)
        return None if logits is None else logits(from_uint8(pixels))


class InceptionExtractor(FeatureExtractor):
    def __init__(self, source: str, batch_size: int = 50):
        graph_bytes = _read_inception_graph(source)
        self.identity = "inception:" + sha256_hex(graph_bytes)[:16]
        self.batch_size = batch_size
        graph_def = tf.compat.v1.GraphDef()
        try:
            graph_def.ParseFromString(graph_bytes)
        except Exception as error:  # protobuf raises DecodeError, a private type
            raise ExtractorError(f"{source!r} is not a TensorFlow GraphDef ({error}); set "
                                 f"{EXTRACTOR_PATH_SETTING} to the Inception FID graph") from None

        def pool3(images):
            (features,) = tf.compat.v1.import_graph_def(
                graph_def, input_map={INCEPTION_INPUT: images},
                return_elements=[INCEPTION_FEATURES], name="inception")
            return features

        try:
            self._pool3 = tf.compat.v1.wrap_function(
                pool3, [tf.TensorSpec([None, None, None, 3], tf.float32)])
        except (ValueError, KeyError) as error:
            raise ExtractorError(
                f"the graph from {source!r} lacks the Inception FID tensors "
                f"{INCEPTION_INPUT} and {INCEPTION_FEATURES} ({error})") from None

    def features(self, pixels):
        rgb = np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels
        batches = [self._pool3(tf.constant(rgb[start:start + self.batch_size], tf.float32))
                   for start in range(0, len(rgb), self.batch_size)]
        return np.concatenate([np.reshape(b.numpy(), (len(b), -1)) for b in batches]
                              ).astype(np.float64)


class SavedModelExtractor(FeatureExtractor):
    def __init__(self, location: str):
        path, _, output_name = location.partition("#")
        self.output_name = output_name or None
        try:
            if path.endswith((".keras", ".h5")):
                from modules.keras import keras

                self._call = keras.models.load_model(path, compile=False)
                self.input_shape = tf.TensorShape(self._call.input_shape)
                fingerprint_file = path
            else:
                self._call = tf.saved_model.load(path).signatures["serving_default"]
                (spec,) = self._call.structured_input_signature[1].values()
                self.input_shape = spec.shape
                fingerprint_file = os.path.join(path, "saved_model.pb")
            with tf.io.gfile.GFile(fingerprint_file, "rb") as source:
                weights_id = sha256_hex(source.read())[:16]
        except (OSError, KeyError, ValueError, tf.errors.OpError) as error:  # also: not one input
            raise ExtractorError(f"cannot load a feature extractor model from {path!r} "
                                 f"(setting {EXTRACTOR_PATH_SETTING}): {error}") from None
        self.identity = f"saved_model:{weights_id}:{self.output_name or ''}"

    def features(self, pixels):
        batches = []
        for start in range(0, len(pixels), 256):
            batch = tf.constant(pixels[start:start + 256], tf.float32)
            if isinstance(self._call, tf.types.experimental.ConcreteFunction):
                outputs = self._call(batch)
                if self.output_name:
                    result = outputs[self.output_name]
                elif len(outputs) == 1:
                    (result,) = outputs.values()
                else:
                    raise ExtractorError(
                        f"the extractor model has outputs {sorted(outputs)}; name one as "
                        f"PATH#output in {EXTRACTOR_PATH_SETTING}")
            else:
                result = self._call(batch, training=False)
            batches.append(np.reshape(np.asarray(result), (len(batch), -1)))
        return np.concatenate(batches).astype(np.float64)


def _read_bytes(source: str) -> bytes:
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=120) as response:
            return response.read()
    with tf.io.gfile.GFile(source, "rb") as stream:
        return stream.read()


def _read_inception_graph(source: str) -> bytes:
    if not source:
        raise ExtractorError(f"the inception extractor needs {EXTRACTOR_PATH_SETTING}: a path "
                             f"or URL of {INCEPTION_GRAPH_FILE} or inception-2015-12-05.tgz")
    try:
        content = _read_bytes(source)
    except (OSError, tf.errors.OpError, ValueError) as error:
        raise ExtractorError(f"cannot read the Inception-v3 FID weights from {source!r} "
                             f"(setting {EXTRACTOR_PATH_SETTING}): {error}") from None
    if source.endswith((".tgz", ".tar.gz")):
        try:
            with tarfile.open(fileobj=io.BytesIO(content)) as archive:
                member = next(m for m in archive.getmembers()
                              if os.path.basename(m.name) == INCEPTION_GRAPH_FILE)
                return archive.extractfile(member).read()
        except (tarfile.TarError, StopIteration):
            raise ExtractorError(f"{source!r} is not an archive holding {INCEPTION_GRAPH_FILE} "
                                 f"(setting {EXTRACTOR_PATH_SETTING})") from None
    return content


def trained_extractor(name: str, train_pixels: np.ndarray, train_labels: np.ndarray,
                      seed: int, cache: FidCache | None) -> TrainedExtractor:
    """The extractor the Trainer's best-snapshot selection used (same images, seed and
    code, so the same cache entry): loaded from `cache`, else trained and stored."""
    model, identity = cached_trained_extractor(
        name, training_images(name, [(train_pixels, train_labels)]), seed, cache)
    return TrainedExtractor(model, identity)


def build_extractor(name: str, path: str, train_pixels: np.ndarray, train_labels: np.ndarray,
                    seed: int, cache: FidCache | None) -> FeatureExtractor:
    if name in TRAINED_EXTRACTORS:
        return trained_extractor(name, train_pixels, train_labels, seed, cache)
    if name == "inception":
        return InceptionExtractor(path)
    if name == "saved_model":
        if not path:
            raise ExtractorError(f"the saved_model extractor needs {EXTRACTOR_PATH_SETTING}")
        return SavedModelExtractor(path)
    raise ExtractorError(f"unknown FID extractor {name!r}; choose one of {EXTRACTORS}")
