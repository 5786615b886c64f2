"""The pusher component: a blessed generator goes into the TF Serving directory."""
import json
import os

from absl import logging

from components import push
from components.fid_evaluation import METRICS_FILE
from components.tfx_types import (SERVING_MODEL_SUBDIR, InputArtifact, OutputArtifact, Parameter,
                                  artifacts, component)


@component
def GeneratorPusher(
    model: InputArtifact[artifacts.Model],
    model_blessing: InputArtifact[artifacts.ModelBlessing],
    evaluation: InputArtifact[artifacts.ModelEvaluation],
    pushed_model: OutputArtifact[artifacts.PushedModel],
    serving_dir: Parameter[str],
    keep_versions: Parameter[int] = 5,
    code_version: Parameter[str] = "",
) -> None:
    """Pushes the model when blessed: atomically, deduplicated, keeping `keep_versions`.

    `code_version` only keys the cache to our code.

    Records `pushed` (1/0), `pushed_version` and `pushed_destination` on the
    PushedModel artifact, as TFX's Pusher does.
    """
    del code_version
    if model_blessing.get_int_custom_property("blessed") != 1:
        logging.info("Not pushing: the model was not blessed (%s)",
                     model_blessing.get_string_custom_property("reason"))
        pushed_model.set_int_custom_property("pushed", 0)
        return
    with open(os.path.join(evaluation.uri, METRICS_FILE)) as source:
        metrics = json.load(source)
    result = push.push(os.path.join(model.uri, SERVING_MODEL_SUBDIR), serving_dir, metrics,
                       keep_versions=keep_versions)
    logging.info("Pusher: %s", result.reason)
    pushed_model.set_int_custom_property("pushed", int(result.pushed))
    pushed_model.set_string_custom_property("pushed_destination", result.destination or "")
    pushed_model.set_int_custom_property("pushed_version", result.version or 0)
    pushed_model.set_string_custom_property("reason", result.reason)
