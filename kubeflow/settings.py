"""What differs on Kubeflow: images, container resources, volumes and the schedule.

Plain dataclasses with no TFX or kfp import, so that they validate in an instant;
the pipeline itself is configured by `pipeline.configs.PipelineConfig` as everywhere.
"""
from __future__ import annotations

import dataclasses
import os

from pipeline import configs

GPU = "nvidia.com/gpu"
DEFAULT_PACKAGE_PATH = "build/gan-pipeline.yaml"


@dataclasses.dataclass(frozen=True)
class Resources:
    """Limits of one component's container, and the accelerator it asks for (if any)."""

    cpu_limit: float
    memory_limit_gb: float
    accelerator_type: str = ""
    accelerator_count: int = 0

    def __post_init__(self):
        if self.cpu_limit <= 0 or self.memory_limit_gb <= 0:
            raise ValueError(f"CPU and memory limits must be positive, got {self}")
        if self.accelerator_count < 0 or (self.accelerator_count > 0) != bool(self.accelerator_type):
            raise ValueError(f"an accelerator needs both a type and a positive count, got {self}")

    def resource_spec(self):
        """As the `ResourceSpec` proto that `with_platform_config` takes."""
        from kfp.pipeline_spec import pipeline_spec_pb2

        resource_spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec
        spec = resource_spec(cpu_limit=self.cpu_limit, memory_limit=self.memory_limit_gb)
        if self.accelerator_count:
            spec.accelerator.CopyFrom(resource_spec.AcceleratorConfig(
                type=self.accelerator_type, count=self.accelerator_count))
        return spec


@dataclasses.dataclass(frozen=True)
class VolumeMount:
    """A PersistentVolumeClaim mounted at `mount_path` in the containers that use a path below it."""

    claim_name: str
    mount_path: str

    @classmethod
    def parse(cls, text: str) -> VolumeMount:
        """`CLAIM:/mount/path`, as the command-line flags spell it."""
        claim_name, separator, mount_path = text.partition(":")
        if not (claim_name and separator and os.path.isabs(mount_path)):
            raise ValueError(f"a volume is CLAIM_NAME:/absolute/mount/path, got {text!r}")
        return cls(claim_name, os.path.normpath(mount_path))

    def contains(self, path: str) -> bool:
        return (os.path.isabs(path)
                and os.path.commonpath([self.mount_path, os.path.normpath(path)]) == self.mount_path)


@dataclasses.dataclass(frozen=True)
class KubeflowSettings:
    """Everything `python -m kubeflow.compile` puts into the pipeline spec besides the pipeline.

    `pipeline.output_dir` holds the pipeline root (`<output_dir>/pipeline_root`),
    which must be a bucket TensorFlow reads natively (gs://): TFX's executors open
    artifact URIs themselves. The pusher writes with os/shutil (for its atomic
    rename), so `pipeline.serving_dir` must lie on `serving_volume`.
    """

    pipeline: configs.PipelineConfig
    cpu_image: str = "gan-pipeline:cpu"
    gpu_image: str = "gan-pipeline:gpu"        # the Trainer's image
    trainer_resources: Resources = Resources(cpu_limit=8, memory_limit_gb=32,
                                             accelerator_type=GPU, accelerator_count=1)
    component_resources: Resources = Resources(cpu_limit=4, memory_limit_gb=16)
    serving_volume: VolumeMount | None = None
    data_volume: VolumeMount | None = None     # only when the data is on a volume, not a bucket
    cache_ingest: bool = False                 # see compile.disable_ingest_cache

    def __post_init__(self):
        if self.serving_volume is None or not self.serving_volume.contains(self.pipeline.serving_dir):
            raise ValueError(
                f"the serving folder {self.pipeline.serving_dir!r} must be on a mounted volume "
                "(--serving-volume CLAIM:/mount/path): the pusher renames each version into "
                "place on a file system")
        if self.data_volume is not None and not self.data_volume.contains(self.pipeline.data_dir):
            raise ValueError(f"the data folder {self.pipeline.data_dir!r} is not below the data "
                             f"volume's mount path {self.data_volume.mount_path!r}")


@dataclasses.dataclass(frozen=True)
class Schedule:
    """When the recurring run starts: a 6-field cron expression (seconds first) or an interval."""

    cron: str = ""
    interval_seconds: int = 0

    def __post_init__(self):
        if bool(self.cron) == bool(self.interval_seconds):
            raise ValueError("give either a cron expression or an interval, not both or neither")
        if self.cron and len(self.cron.split()) != 6:
            raise ValueError(f"KFP's cron has 6 fields, seconds first (e.g. '0 0 2 * * *' for "
                             f"02:00 every day), got {self.cron!r}")
        if self.interval_seconds < 0:
            raise ValueError(f"the interval must be positive, got {self.interval_seconds}")


@dataclasses.dataclass(frozen=True)
class ScheduleSettings:
    """Where and how `python -m kubeflow.schedule` uploads and schedules the compiled pipeline."""

    host: str | None                           # None: $KF_PIPELINES_ENDPOINT or in-cluster
    package_path: str = DEFAULT_PACKAGE_PATH
    pipeline_name: str = configs.PIPELINE_NAME
    experiment_name: str = configs.PIPELINE_NAME
    recurring_run_name: str = f"{configs.PIPELINE_NAME}-nightly"
    schedule: Schedule = Schedule(cron="0 0 2 * * *")
    namespace: str | None = None               # multi-user Kubeflow: the profile's namespace
    max_concurrency: int = 1
    no_catchup: bool = True
