"""Compiles the pipeline for Kubeflow Pipelines 2.x: `python -m kubeflow.compile [flags]`.

The pipeline is the one `create_pipeline()` builds for the local runners;
only what the cluster needs is added here, after the factory returns:
container images, resources (a GPU for the Trainer), volumes, and no cache for
ingest. The output is the bare PipelineSpec YAML that the KFP 2 server accepts,
followed by the Kubernetes platform document when volumes are mounted.
"""
from __future__ import annotations

import argparse
import os

import yaml

from kubeflow.settings import DEFAULT_PACKAGE_PATH, KubeflowSettings, Resources, VolumeMount
from pipeline import configs, flags

# KubeflowV2DagRunnerConfig's key for the image of components not named in the map
# (tfx.orchestration.kubeflow.v2.pipeline_builder.DEFAULT_IMAGE_PATH_KEY).
DEFAULT_IMAGE_KEY = "default_image_path"


def parse_args(argv=None) -> tuple[KubeflowSettings, str]:
    parser = argparse.ArgumentParser(
        description="Compile the GAN pipeline into a KFP 2 pipeline spec (YAML).")
    parser.add_argument("--output-dir", required=True,
                        help="the pipeline root is <output-dir>/pipeline_root; a bucket that "
                             "TensorFlow reads natively, e.g. gs://my-bucket/gan")
    parser.add_argument("--data-dir", required=True,
                        help="the images (or TFRecords): a bucket path (gs://...) or a folder on "
                             "--data-volume")
    parser.add_argument("--serving-volume", required=True, type=VolumeMount.parse,
                        help="CLAIM:/mount/path of the PersistentVolumeClaim TF Serving reads")
    parser.add_argument("--serving-dir", default=None,
                        help="the serving folder on the serving volume; default: its mount path")
    parser.add_argument("--data-volume", type=VolumeMount.parse, default=None,
                        help="CLAIM:/mount/path when --data-dir is on a volume")
    parser.add_argument("--cpu-image", default=KubeflowSettings.cpu_image,
                        help="image of every component but the Trainer (kubeflow/Dockerfile.cpu)")
    parser.add_argument("--gpu-image", default=KubeflowSettings.gpu_image,
                        help="the Trainer's image (kubeflow/Dockerfile.gpu)")
    trainer, others = KubeflowSettings.trainer_resources, KubeflowSettings.component_resources
    parser.add_argument("--trainer-accelerator", default=trainer.accelerator_type,
                        help="the Trainer's accelerator resource name ('' for none)")
    parser.add_argument("--trainer-accelerator-count", type=int, default=trainer.accelerator_count)
    parser.add_argument("--trainer-cpu", type=float, default=trainer.cpu_limit)
    parser.add_argument("--trainer-memory-gb", type=float, default=trainer.memory_limit_gb)
    parser.add_argument("--component-cpu", type=float, default=others.cpu_limit,
                        help="CPU limit of every other component")
    parser.add_argument("--component-memory-gb", type=float, default=others.memory_limit_gb)
    parser.add_argument("--cache-ingest", action="store_true",
                        help="let KFP serve ingest from its cache (new data would then be missed)")
    parser.add_argument("--package", default=DEFAULT_PACKAGE_PATH,
                        help="where to write the pipeline spec (.yaml)")
    flags.add_pipeline_flags(parser)
    args = parser.parse_args(argv)
    if not args.package.endswith((".yaml", ".yml")):
        parser.error("--package must end in .yaml: the KFP 2 server takes the bare PipelineSpec")

    serving_dir = args.serving_dir or args.serving_volume.mount_path
    try:
        settings = kubeflow_settings(args, serving_dir)
    except ValueError as error:
        parser.exit(2, f"error: {flags.name_the_flag(error, args)}\n")
    return settings, args.package


def kubeflow_settings(args: argparse.Namespace, serving_dir: str) -> KubeflowSettings:
    """The settings of the parsed flags; raises ValueError on a contradiction."""
    return KubeflowSettings(
        pipeline=flags.pipeline_config(args, data_dir=args.data_dir, output_dir=args.output_dir,
                                       serving_dir=serving_dir),
        cpu_image=args.cpu_image,
        gpu_image=args.gpu_image,
        trainer_resources=Resources(args.trainer_cpu, args.trainer_memory_gb,
                                    args.trainer_accelerator, args.trainer_accelerator_count
                                    if args.trainer_accelerator else 0),
        component_resources=Resources(args.component_cpu, args.component_memory_gb),
        serving_volume=args.serving_volume,
        data_volume=args.data_volume,
        cache_ingest=args.cache_ingest)


def compile_pipeline(settings: KubeflowSettings, package_path: str) -> list[dict]:
    """Writes the spec (and the platform document, if any) to `package_path`; returns them."""
    from tfx import v1 as tfx

    from components.ingest.component import FileBasedExampleGen
    from pipeline.pipeline import create_pipeline

    pipeline = create_pipeline(settings.pipeline)
    images = {DEFAULT_IMAGE_KEY: settings.cpu_image}
    for component in pipeline.components:
        if isinstance(component, tfx.components.Trainer):
            component.with_platform_config(settings.trainer_resources.resource_spec())
            images[component.id] = settings.gpu_image
        else:
            component.with_platform_config(settings.component_resources.resource_spec())

    # Schema 2.1.0 spells parameters as `constant` values with a `parameterType`: the
    # form the KFP 2 SDK writes and the open-source KFP 2 backend reads.
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=images, use_pipeline_spec_2_1=True))
    # Not written by the runner: the edits below are ones TFX's compiler cannot express.
    pipeline_spec = runner.run(pipeline, write_out=False)["pipelineSpec"]
    pipeline_spec["defaultPipelineRoot"] = settings.pipeline.pipeline_root
    for component in pipeline.components:
        if isinstance(component, FileBasedExampleGen):
            add_example_gen_resources(pipeline_spec, component)
            if not settings.cache_ingest:
                disable_ingest_cache(pipeline_spec, component.id)
    documents = [pipeline_spec]
    volume_mounts = {
        component.id: volumes_used(component.exec_properties,
                                   (settings.serving_volume, settings.data_volume))
        for component in pipeline.components}
    platform_spec = kubernetes_platform_spec(pipeline_spec, volume_mounts)
    if platform_spec:
        documents.append(platform_spec)

    os.makedirs(os.path.dirname(os.path.abspath(package_path)), exist_ok=True)
    with open(package_path, "w") as package:
        yaml.safe_dump_all(documents, package, sort_keys=True)
    return documents


def executor_of(pipeline_spec: dict, task_name: str) -> tuple[str, dict]:
    """The executor label and spec that run one task."""
    component_name = pipeline_spec["root"]["dag"]["tasks"][task_name]["componentRef"]["name"]
    label = pipeline_spec["components"][component_name]["executorLabel"]
    return label, pipeline_spec["deploymentSpec"]["executors"][label]


def add_example_gen_resources(pipeline_spec: dict, example_gen) -> None:
    """TFX's builder drops FileBasedExampleGen's platform config (TFX 1.16 and 1.21); adds it back."""
    from google.protobuf import json_format

    _, executor = executor_of(pipeline_spec, example_gen.id)
    executor["container"]["resources"] = json_format.MessageToDict(example_gen.platform_config)


def disable_ingest_cache(pipeline_spec: dict, task_name: str) -> None:
    """Makes ingest read its input on every run.

    TFX's ExampleGen driver, which fingerprints the input files so that new data
    changes the cache key, runs as a `lifecycle.preCacheCheck` hook that
    open-source KFP does not execute; with caching on, every scheduled run
    would reuse the first run's examples.
    """
    pipeline_spec["root"]["dag"]["tasks"][task_name].pop("cachingOptions", None)


def volumes_used(exec_properties: dict, volumes) -> list[VolumeMount]:
    """The volumes below whose mount paths a component's parameters name a path."""
    paths = [value for value in exec_properties.values() if isinstance(value, str)]
    return [volume for volume in volumes
            if volume is not None and any(volume.contains(path) for path in paths)]


def kubernetes_platform_spec(pipeline_spec: dict, volume_mounts: dict) -> dict:
    """KFP's Kubernetes platform document mounting each task's volumes (kfp-kubernetes' format)."""
    executors = {}
    for task_name, volumes in volume_mounts.items():
        if not volumes:
            continue
        executor_label, _ = executor_of(pipeline_spec, task_name)
        executors[executor_label] = {"pvcMount": [
            {"constant": volume.claim_name, "mountPath": volume.mount_path} for volume in volumes]}
    if not executors:
        return {}
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}}


def main(argv=None) -> None:
    settings, package_path = parse_args(argv)
    compile_pipeline(settings, package_path)
    print(f"Pipeline spec: {package_path}")
    print(f"Upload and schedule it: python -m kubeflow.schedule --host KFP_URL "
          f"--package {package_path}")


if __name__ == "__main__":
    main()
