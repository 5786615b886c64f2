"""The pusher component: a blessed generator goes into the TF Serving directory."""
import os

from absl import logging

from components.evaluation.result import read_result
from components.push import serving_folder
from components.push.settings import PushSettings
from components.tfx_types import (SERVING_MODEL_SUBDIR, InputArtifact, OutputArtifact, Parameter,
                                  artifacts, component)


@component
def GeneratorPusher(
    model: InputArtifact[artifacts.Model],
    model_blessing: InputArtifact[artifacts.ModelBlessing],
    evaluation: InputArtifact[artifacts.ModelEvaluation],
    pushed_model: OutputArtifact[artifacts.PushedModel],
    serving_dir: Parameter[str],
    settings: Parameter[str],
    code_version: Parameter[str] = "",
) -> None:
    """Pushes the model when blessed: atomically, deduplicated, keeping `keep_versions`
    (`settings`: the `push.settings.PushSettings` as JSON).

    `code_version` only keys the cache to our code.

    Records `pushed` (1/0), `pushed_version` and `pushed_destination` on the
    PushedModel artifact, as TFX's Pusher does. The evaluation's compressed copies
    whose FID is within `compressed_fid_tolerance` of the model's go beside it, into
    `serving_dir/<precision>/`, with the same version number when it is free
    (`compressed` records what happened to each).
    """
    del code_version
    push_settings = PushSettings.from_json(settings)
    if model_blessing.get_int_custom_property("blessed") != 1:
        logging.info("Not pushing: the model was not blessed (%s)",
                     model_blessing.get_string_custom_property("reason"))
        pushed_model.set_int_custom_property("pushed", 0)
        return
    result = read_result(evaluation.uri)
    pushed = serving_folder.push(os.path.join(model.uri, SERVING_MODEL_SUBDIR), serving_dir,
                                 result.to_dict(), keep_versions=push_settings.keep_versions)
    logging.info("Pusher: %s", pushed.reason)
    pushed_model.set_int_custom_property("pushed", int(pushed.pushed))
    pushed_model.set_string_custom_property("pushed_destination", pushed.destination or "")
    pushed_model.set_int_custom_property("pushed_version", pushed.version or 0)
    pushed_model.set_string_custom_property("reason", pushed.reason)
    if not pushed.pushed:
        return
    outcomes = []
    candidates = {precision: scored.fid for precision, scored in result.compressed.items()}
    for decision in serving_folder.compressed_decisions(
            result.fid, candidates, push_settings.compressed_fid_tolerance):
        outcome = decision.reason
        if decision.push:
            copy = serving_folder.push(
                result.compressed[decision.precision].path,
                serving_folder.compressed_serving_dir(serving_dir, decision.precision),
                result.for_compressed(decision.precision).to_dict(),
                keep_versions=push_settings.keep_versions, clock=lambda: pushed.version)
            outcome += f"; {copy.reason}"
        logging.info("Pusher, compressed copy: %s", outcome)
        outcomes.append(outcome)
    pushed_model.set_string_custom_property("compressed", "\n".join(outcomes))
