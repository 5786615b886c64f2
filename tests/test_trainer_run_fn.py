"""The Trainer's entry point, `run_fn`, on real Transform output."""
import dataclasses
import os
import types

import pytest

from modules.checkpointing import NonFiniteTrainingError
from modules.data import split_file_patterns
from modules.trainer import run_fn
from modules.training_config import CHECKPOINT_ROOT_KEY, TrainerConfig
from tests.training_worker import TINY
from tests.transform_output import write_transform_output


@pytest.fixture(scope="module")
def transformed(tmp_path_factory) -> tuple[str, str]:
    return write_transform_output(str(tmp_path_factory.mktemp("transform")), count=300)


def fn_args(transformed, tmp_path, train_steps: int, **custom_config) -> types.SimpleNamespace:
    """The fields of TFX's FnArgs that `run_fn` reads."""
    examples_uri, transform_graph_uri = transformed
    return types.SimpleNamespace(
        custom_config={**dataclasses.asdict(TrainerConfig(**TINY)), **custom_config},
        transform_output=transform_graph_uri,
        train_files=split_file_patterns(examples_uri, "train"), train_steps=train_steps,
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
