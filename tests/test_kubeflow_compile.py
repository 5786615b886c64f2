"""`python -m kubeflow.compile`: the spec KFP 2 gets, checked against KFP's and TFX's contracts."""
import json
import os
import runpy
import sys

import pytest

from components.evaluation.result import METRICS_FILE
from components.push import serving_folder as push
from kubeflow.settings import KubeflowSettings, Resources, VolumeMount
from pipeline import configs
from tests.evaluation_records import recorded_result
from tests.kubeflow_package import BEAM_ARGS, CPU_IMAGE, GPU_IMAGE

TFX_ENTRYPOINT = ["python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]
EXECUTOR_CLASSES = {
    "FileBasedExampleGen": "components.ingest.component.ImageExampleGenExecutor",
    "StatisticsGen": "tfx.components.statistics_gen.executor.Executor",
    "SchemaGen": "tfx.components.schema_gen.executor.Executor",
    "ConstrainedSchema": "components.validation.component.ConstrainedSchema_Executor",
    "ExampleValidator": "tfx.components.example_validator.executor.Executor",
    "AnomaliesGate": "components.validation.component.AnomaliesGate_Executor",
    "Transform": "tfx.components.transform.executor.Executor",
    "Trainer": "tfx.components.trainer.executor.GenericExecutor",
    "FidEvaluator": "components.evaluation.component.FidEvaluator_Executor",
    "GeneratorPusher": "components.push.component.GeneratorPusher_Executor",
}


def executors_by_task(spec):
    tasks = spec["root"]["dag"]["tasks"]
    return {name: spec["deploymentSpec"]["executors"][
        spec["components"][task["componentRef"]["name"]]["executorLabel"]] for name, task in tasks.items()}


def test_the_package_parses_strictly_as_kfp_pipeline_and_platform_specs(compiled):
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    assert len(compiled["documents"]) == 2
    spec = json_format.ParseDict(compiled["spec"], pipeline_spec_pb2.PipelineSpec())
    json_format.ParseDict(compiled["platform"], pipeline_spec_pb2.PlatformSpec())
    assert spec.pipeline_info.name == configs.PIPELINE_NAME
    assert spec.schema_version == "2.1.0"
    assert spec.default_pipeline_root == "gs://test-bucket/gan/pipeline_root"
    assert set(spec.root.dag.tasks) == set(EXECUTOR_CLASSES)


def test_the_trainer_and_only_the_trainer_requests_a_gpu_and_every_component_has_limits(compiled):
    executors = executors_by_task(compiled["spec"])
    for task, executor in executors.items():
        resources = executor["container"]["resources"]
        if task == "Trainer":
            assert resources == {"accelerator": {"count": "1", "type": "nvidia.com/gpu"},
                                 "cpuLimit": 8.0, "memoryLimit": 32.0}
        else:
            assert resources == {"cpuLimit": 4.0, "memoryLimit": 16.0}, task


def test_every_component_runs_the_tfx_entrypoint_with_its_executor_and_the_beam_args(compiled):
    for task, executor in executors_by_task(compiled["spec"]).items():
        container = executor["container"]
        assert container["image"] == (GPU_IMAGE if task == "Trainer" else CPU_IMAGE), task
        assert container["command"] == TFX_ENTRYPOINT, task
        args = container["args"]
        assert args[:4] == ["--executor_class_path", EXECUTOR_CLASSES[task],
                            "--json_serialized_invocation_args", "{{$}}"], task
        assert args[4] == "--json_serialized_inputs_spec_args"
        assert set(json.loads(args[5]).get("parameters", {})) == set(
            compiled["spec"]["components"][task]["inputDefinitions"].get("parameters", {})), task
        assert args[6:] == BEAM_ARGS, task


def test_no_resolver_or_importer_and_ingest_is_never_served_from_cache(compiled):
    spec = compiled["spec"]
    for executor in spec["deploymentSpec"]["executors"].values():
        assert set(executor) == {"container"}
    tasks = spec["root"]["dag"]["tasks"]
    assert "cachingOptions" not in tasks["FileBasedExampleGen"]
    for name, task in tasks.items():
        if name != "FileBasedExampleGen":
            assert task["cachingOptions"] == {"enableCache": True}, name


def test_pipeline_settings_reach_the_components(compiled):
    tasks = compiled["spec"]["root"]["dag"]["tasks"]
    def constant(task, name):
        return tasks[task]["inputs"]["parameters"][name]["runtimeValue"]["constant"]

    assert constant("FileBasedExampleGen", "input_base") == "gs://test-bucket/images"
    assert json.loads(constant("Trainer", "train_args")) == {"num_steps": 20000}
    assert json.loads(constant("Trainer", "custom_config"))["image_size"] == 32
    assert constant("GeneratorPusher", "serving_dir") == str(compiled["root"] / "serving")


def test_the_serving_volume_is_mounted_where_it_is_read_or_written_only(compiled):
    """The evaluator reads the served version's metrics (its baseline); the pusher writes."""
    executors = compiled["platform"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    mount = {"pvcMount": [{"constant": "gan-serving",
                           "mountPath": str(compiled["root"] / "serving")}]}
    assert executors == {"FidEvaluator_executor": mount, "GeneratorPusher_executor": mount}


def test_the_factory_itself_carries_no_kubeflow_settings():
    from pipeline.pipeline import create_pipeline

    pipeline = create_pipeline(configs.PipelineConfig())
    assert [component.platform_config for component in pipeline.components] == [None] * len(
        pipeline.components)


def test_the_pusher_runs_through_the_tfx_entrypoint_from_its_compiled_command(
        compiled, tmp_path, monkeypatch):
    """Builds the ExecutorInput KFP's driver would send for this task and runs the container's command."""
    spec, serving_dir = compiled["spec"], compiled["root"] / "serving"
    model_dir = tmp_path / "model"
    (model_dir / "Format-Serving").mkdir(parents=True)
    (model_dir / "Format-Serving" / "saved_model.pb").write_bytes(b"a SavedModel's bytes")
    evaluation_dir = tmp_path / "evaluation"
    evaluation_dir.mkdir()
    blessed = recorded_result(fid=1.5, fid_real_floor=1.0, precision=1.0, recall=1.0)
    (evaluation_dir / METRICS_FILE).write_text(blessed.to_json())
    executor_input = kfp_executor_input(spec, "GeneratorPusher", tmp_path / "outputs", {
        "model": (model_dir, {}),
        "evaluation": (evaluation_dir, {"fid": 1.5}),
        "model_blessing": (tmp_path / "blessing", {"blessed": 1, "reason": "FID 1.5 <= 5"})})

    container = executors_by_task(spec)["GeneratorPusher"]["container"]
    args = [json.dumps(executor_input) if arg == "{{$}}" else arg for arg in container["args"]]
    assert container["command"][:2] == ["python", "-m"]
    # `python -m MODULE ARGS` in this process (TFX is loaded already; a new one takes a minute).
    monkeypatch.setattr(sys, "argv", [container["command"][2], *args])
    with pytest.raises(SystemExit) as exit_status:
        runpy.run_module(container["command"][2], run_name="__main__", alter_sys=True)
    assert exit_status.value.code in (None, 0)

    (version,) = push.versions(str(serving_dir))  # beside it: the pushes' lock file
    assert (serving_dir / str(version) / "saved_model.pb").read_bytes() == b"a SavedModel's bytes"
    with open(executor_input["outputs"]["outputFile"]) as source:
        output = json.load(source)
    (pushed,) = output["artifacts"]["pushed_model"]["artifacts"]
    assert pushed["metadata"]["pushed"] == 1
    assert pushed["metadata"]["pushed_version"] == version


def kfp_executor_input(spec, task_name, output_root, inputs):
    """The ExecutorInput (KFP's published container contract) for one task of the spec."""
    task = spec["root"]["dag"]["tasks"][task_name]
    component = spec["components"][task["componentRef"]["name"]]

    def artifact(name, definition, uri, metadata):
        return {"artifacts": [{"name": f"{task_name}-{name}", "uri": str(uri), "metadata": metadata,
                               "type": definition["artifactType"]}]}

    input_definitions = component["inputDefinitions"]["artifacts"]
    output_definitions = component["outputDefinitions"]["artifacts"]
    return {
        "inputs": {
            "parameterValues": {name: parameter["runtimeValue"]["constant"]
                                for name, parameter in task["inputs"]["parameters"].items()},
            "artifacts": {name: artifact(name, input_definitions[name], uri, metadata)
                          for name, (uri, metadata) in inputs.items()}},
        "outputs": {
            "artifacts": {name: artifact(name, definition, output_root / name, {})
                          for name, definition in output_definitions.items()},
            "outputFile": str(output_root / "executor_output.json")},
    }


def test_resources_and_volumes_are_validated_before_anything_compiles():
    spec = Resources(2, 8, "nvidia.com/mig-1g.5gb", 3).resource_spec()
    assert (spec.accelerator.type, spec.accelerator.count, spec.cpu_limit) == (
        "nvidia.com/mig-1g.5gb", 3, 2)
    with pytest.raises(ValueError, match="type and a positive count"):
        Resources(2, 8, "", 1)
    with pytest.raises(ValueError, match="CLAIM_NAME:/absolute"):
        VolumeMount.parse("claim-without-path")
    with pytest.raises(ValueError, match="must be on a mounted volume"):
        KubeflowSettings(pipeline=configs.PipelineConfig(serving_dir="gs://bucket/serving"),
                         serving_volume=VolumeMount("serving", "/serving"))


def test_the_command_refuses_a_serving_folder_off_the_volume_before_compiling(capsys):
    from kubeflow import compile as kubeflow_compile

    with pytest.raises(SystemExit):
        kubeflow_compile.parse_args([
            "--output-dir", "gs://bucket/gan", "--data-dir", "gs://bucket/images",
            "--serving-volume", "gan-serving:/serving", "--serving-dir", "/elsewhere/generator"])
    assert "must be on a mounted volume" in capsys.readouterr().err


def test_a_data_volume_is_mounted_where_a_parameter_names_a_path_on_it():
    from kubeflow.compile import volumes_used

    serving, data = VolumeMount("gan-serving", "/serving"), VolumeMount("gan-data", "/data")
    assert volumes_used({"input_base": "/data/images", "input_config": '{"splits": []}'},
                        (serving, None, data)) == [data]
    assert volumes_used({"input_base": "/database/images"}, (serving, data)) == []
    assert volumes_used({"serving_dir": "/serving/generator", "keep_versions": 5},
                        (serving, data)) == [serving]
