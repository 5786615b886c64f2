"""Each stage's cache key covers the code it runs, and only that code."""
import shutil

import pytest

from pipeline import code_version, configs

STAGES = {
    "ingest": (configs.INGEST_MODULE,),
    "validation": (configs.VALIDATION_MODULE,),
    "transform": (configs.module_of(configs.PREPROCESSING_FN),),
    "trainer": (configs.module_of(configs.RUN_FN),),
    "evaluation": (configs.EVALUATION_MODULE,),
    "push": (configs.PUSH_MODULE,),
}


def keys() -> dict[str, str]:
    versions = {stage: code_version.code_version(*modules) for stage, modules in STAGES.items()}
    versions["checkpoints"] = code_version.code_version(
        configs.module_of(configs.RUN_FN), exclude=configs.NOT_TRAINING_MODULES)
    return versions


@pytest.fixture
def project_copy(tmp_path, monkeypatch):
    for package in code_version.PROJECT_PACKAGES:
        shutil.copytree(code_version.PROJECT_ROOT / package, tmp_path / package)
    monkeypatch.setattr(code_version, "PROJECT_ROOT", tmp_path)
    return tmp_path


def names(*modules, exclude=()):
    root = code_version.PROJECT_ROOT
    return {str(path.relative_to(root))
            for path in code_version.module_closure(*modules, exclude=exclude)}


def test_a_closure_follows_imports_transitively_and_skips_what_is_excluded():
    trainer = names("modules.training.trainer")
    # imported by trainer.py directly, and through modules.training.gan (not by trainer.py)
    assert {"modules/training/trainer.py", "modules/export.py", "modules/training/augment.py",
            "modules/__init__.py"} <= trainer
    assert not any(name.startswith("components/") for name in trainer)
    assert "modules/export.py" not in names("modules.training.trainer",
                                            exclude=("modules.export",))
    assert "components/evaluation/report.py" in names(configs.EVALUATION_MODULE)
    assert "components/evaluation/report.py" not in names(configs.INGEST_MODULE)


@pytest.mark.parametrize("edited, changed", [
    # The pusher reads the evaluation record, not the code that scores or reports.
    ("components/evaluation/report.py", {"evaluation"}),
    ("components/evaluation/result.py", {"evaluation", "push"}),
    ("modules/export.py", {"trainer", "evaluation", "push"}),
    ("modules/training/gan.py", {"trainer", "checkpoints"}),
    ("components/ingest/beam_job.py", {"ingest"}),
    ("modules/features.py", set(STAGES) | {"checkpoints"}),
])
def test_an_edit_changes_the_keys_of_the_stages_that_run_it_and_no_other(
        project_copy, edited, changed):
    before = keys()
    with open(project_copy / edited, "a") as source:
        source.write("\n# edited\n")
    after = keys()
    assert {stage for stage in before if before[stage] != after[stage]} == changed
