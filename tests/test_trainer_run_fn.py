"""The Trainer's entry point, `run_fn`, on real Transform output: a diverged run exports
nothing, and the extractor that best-snapshot selection trains (the domain classifier on
labeled images, the self-supervised encoder on unlabeled ones) is the one the FidEvaluator
then loads."""
import dataclasses
import glob
import os
import types

import pytest
import tensorflow as tf

from components.evaluation import scoring as fid_evaluation
from components.evaluation.gate import EvaluationConfig, EvaluationSettings
from modules.data import count_records, fingerprint, split_file_patterns
from modules.export import read_metadata
from modules.quality import domain_classifier, self_supervised
from modules.training.checkpointing import NonFiniteTrainingError, checkpoint_directory
from modules.training.config import CHECKPOINT_ROOT_KEY, FID_CACHE_KEY, TrainerConfig
from modules.training.trainer import run_fn
from tests.training_worker import TINY
from tests.transform_output import write_transform_output


@pytest.fixture(scope="module")
def transformed(tmp_path_factory) -> tuple[str, str]:
    # Eval splits (every fifth image) larger than the extractors' feature dimensions.
    return write_transform_output(str(tmp_path_factory.mktemp("transform")), count=700)


@pytest.fixture(scope="module")
def unlabeled(tmp_path_factory) -> tuple[str, str]:
    return write_transform_output(str(tmp_path_factory.mktemp("unlabeled")), count=1000,
                                  labeled=False)


def counted_trainings(monkeypatch, module, name: str) -> list:
    """Records every call of `module.name` (the extractor's training function)."""
    trainings = []
    train = getattr(module, name)

    def counted(*args, **kwargs):
        trainings.append(args)
        return train(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return trainings


def scored_steps(run_dir: str) -> list[int]:
    """The steps at which snapshot selection wrote a cheap FID to TensorBoard."""
    return sorted(event.step for path in glob.glob(os.path.join(run_dir, "train", "events.*"))
                  for event in tf.compat.v1.train.summary_iterator(path)
                  for value in event.summary.value if value.tag == "cheap_fid")


def fn_args(transformed, tmp_path, train_steps: int, **custom_config) -> types.SimpleNamespace:
    """The fields of TFX's FnArgs that `run_fn` reads."""
    examples_uri, transform_graph_uri = transformed
    return types.SimpleNamespace(
        custom_config={**dataclasses.asdict(TrainerConfig(**TINY)), **custom_config},
        transform_output=transform_graph_uri,
        train_files=split_file_patterns(examples_uri, "train"),
        eval_files=split_file_patterns(examples_uri, "eval"), train_steps=train_steps,
        model_run_dir=str(tmp_path / "model_run"),
        serving_model_dir=str(tmp_path / "model" / "Format-Serving"))


def test_a_diverged_run_stops_with_the_clear_error_and_writes_no_serving_model(transformed,
                                                                                tmp_path):
    args = fn_args(transformed, tmp_path, 20, generator_learning_rate=1e30,
                   discriminator_learning_rate=1e30,
                   **{CHECKPOINT_ROOT_KEY: str(tmp_path / "checkpoints")})
    with pytest.raises(NonFiniteTrainingError,
                       match=r"training diverged at step \d+: .*nothing is exported"):
        run_fn(args)
    assert not os.path.exists(args.serving_model_dir)
    assert os.path.isdir(tmp_path / "checkpoints")  # it did train, from the pipeline's root


def test_the_evaluator_loads_the_classifier_the_trainer_trained(transformed, tmp_path,
                                                               monkeypatch, capsys):
    trainings = counted_trainings(monkeypatch, domain_classifier, "train_domain_classifier")
    locations = {CHECKPOINT_ROOT_KEY: str(tmp_path / "checkpoints"),
                 FID_CACHE_KEY: str(tmp_path / "fid_cache")}
    args = fn_args(transformed, tmp_path, 20, fid_every_steps=10, selection_samples=200,
                   **locations)

    run_fn(args)

    assert len(trainings) == 1  # for best-snapshot selection
    # The training plan: printed, and recorded with the exported model.
    plan = read_metadata(args.serving_model_dir)["training_plan"]
    choices = {choice["name"]: choice for choice in plan["choices"]}
    assert plan["num_images"] == count_records(args.train_files)
    assert choices["batch_size"] == {"name": "batch_size", "value": TINY["batch_size"],
                                     "reason": "given"}
    assert choices["ema_half_life_images"]["reason"] == "given"
    assert choices["generator_learning_rate"]["reason"] != "given"
    printed = capsys.readouterr().out
    assert f"Training plan for {plan['num_images']} images of 8x8x1" in printed
    assert "generator_learning_rate = 0.0001  (for 8 px images)" in printed
    # Where the cache lives does not change which checkpoint a run resumes from.
    settings = {k: v for k, v in args.custom_config.items() if k not in locations}
    assert os.listdir(checkpoint_directory(locations[CHECKPOINT_ROOT_KEY], settings, 20,
                                           fingerprint(args.train_files)))

    examples_uri, transform_graph_uri = transformed
    result = fid_evaluation.evaluate(
        examples_uri, transform_graph_uri, args.serving_model_dir,
        EvaluationConfig(EvaluationSettings(fid_num_samples=100, kid_subsets=10),
                         seed=TrainerConfig(**TINY).seed, cache_dir=locations[FID_CACHE_KEY]),
        str(tmp_path / "evaluation"))

    assert len(trainings) == 1  # the evaluator loaded the Trainer's
    (entry,) = [name for name in os.listdir(locations[FID_CACHE_KEY])
                if name.startswith("classifier-")]
    assert result.extractor == "domain_classifier:" + entry[len("classifier-"):-len(".npz")]


def test_unlabeled_images_get_snapshot_selection_with_the_self_supervised_extractor(
        unlabeled, tmp_path, monkeypatch):
    trainings = counted_trainings(monkeypatch, self_supervised, "train_self_supervised")
    cache_dir = str(tmp_path / "fid_cache")
    args = fn_args(unlabeled, tmp_path, 20, fid_every_steps=10, selection_samples=200,
                   fid_extractor="self_supervised",
                   **{CHECKPOINT_ROOT_KEY: str(tmp_path / "checkpoints"),
                      FID_CACHE_KEY: cache_dir})

    run_fn(args)

    assert len(trainings) == 1
    assert scored_steps(args.model_run_dir) == [10, 20]
    examples_uri, transform_graph_uri = unlabeled
    result = fid_evaluation.evaluate(
        examples_uri, transform_graph_uri, args.serving_model_dir,
        EvaluationConfig(EvaluationSettings(fid_num_samples=100, kid_subsets=10,
                                            extractor="self_supervised"),
                         seed=TrainerConfig(**TINY).seed, cache_dir=cache_dir),
        str(tmp_path / "evaluation"))

    assert len(trainings) == 1  # the evaluator loaded the Trainer's
    (entry,) = [name for name in os.listdir(cache_dir)
                if name.startswith(self_supervised.CACHE_PREFIX + "-")]
    assert result.extractor == "self_supervised:" + entry[len("self_supervised-"):-4]
