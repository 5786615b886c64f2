"""Uploads the compiled pipeline to Kubeflow Pipelines 2.x and schedules it.

    python -m kubeflow.schedule --host KFP_URL [--cron '0 0 2 * * *' | --interval-seconds N]
    python -m kubeflow.schedule --host KFP_URL --once        # one run now, no schedule

Idempotent, through the `kfp` 2.x client (KFP's v2beta1 REST API):
- the pipeline is created on first use; after that, each distinct spec becomes a
  new version, named after its content, so an unchanged spec is not uploaded again
  (on first use the server also keeps the version it creates with the pipeline);
- the recurring run is found by name in the experiment. KFP has no call to change
  a recurring run, so when its version, trigger, concurrency or catch-up differ, a
  new one is created and the old one deleted afterwards (a failed create leaves
  the old schedule running). An identical one is left alone.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json

from kubeflow.settings import Schedule, ScheduleSettings

PAGE_SIZE = 100


@dataclasses.dataclass(frozen=True)
class RecurringRunSpec:
    """What makes two recurring runs the same, in the form KFP returns it."""

    pipeline_version_id: str
    cron: str
    interval_seconds: int
    max_concurrency: int
    no_catchup: bool
    enabled: bool

    @classmethod
    def of(cls, recurring_run) -> RecurringRunSpec:
        trigger = recurring_run.trigger
        reference = recurring_run.pipeline_version_reference
        return cls(
            pipeline_version_id=reference.pipeline_version_id if reference else "",
            cron=trigger.cron_schedule.cron if trigger.cron_schedule else "",
            interval_seconds=int(trigger.periodic_schedule.interval_second or 0)
            if trigger.periodic_schedule else 0,
            max_concurrency=int(recurring_run.max_concurrency or 0),
            no_catchup=bool(recurring_run.no_catchup),
            enabled=recurring_run.mode == "ENABLE")


def parse_args(argv=None) -> tuple[ScheduleSettings, bool]:
    defaults = ScheduleSettings(host=None)
    parser = argparse.ArgumentParser(description="Upload the compiled pipeline to KFP 2 and "
                                                 "create or update its recurring run.")
    parser.add_argument("--host", default=None,
                        help="the KFP API, e.g. http://localhost:8080 through a port-forward to "
                             "ml-pipeline-ui; default: $KF_PIPELINES_ENDPOINT, or in-cluster")
    parser.add_argument("--package", default=defaults.package_path,
                        help="the spec that python -m kubeflow.compile wrote")
    parser.add_argument("--pipeline-name", default=defaults.pipeline_name)
    parser.add_argument("--experiment", default=defaults.experiment_name)
    parser.add_argument("--recurring-run-name", default=defaults.recurring_run_name)
    parser.add_argument("--namespace", default=None,
                        help="the profile namespace of a multi-user Kubeflow")
    trigger = parser.add_mutually_exclusive_group()
    trigger.add_argument("--cron", default=None,
                         help="6 fields, seconds first; default: "
                              f"'{defaults.schedule.cron}' (02:00 every day in the KFP scheduler's "
                              "time zone, usually UTC)")
    trigger.add_argument("--interval-seconds", type=int, default=None)
    trigger.add_argument("--once", action="store_true",
                         help="start one run now instead of scheduling")
    args = parser.parse_args(argv)
    try:
        schedule = (Schedule(interval_seconds=args.interval_seconds) if args.interval_seconds
                    else Schedule(cron=args.cron) if args.cron else defaults.schedule)
    except ValueError as error:
        parser.error(str(error))
    settings = ScheduleSettings(
        host=args.host, package_path=args.package, pipeline_name=args.pipeline_name,
        experiment_name=args.experiment, recurring_run_name=args.recurring_run_name,
        schedule=schedule, namespace=args.namespace)
    return settings, args.once


def upload(client, settings: ScheduleSettings) -> tuple[str, str]:
    """(pipeline id, version id) of the package, uploading only what the server lacks."""
    with open(settings.package_path, "rb") as package:
        version_name = f"{settings.pipeline_name}-{hashlib.sha256(package.read()).hexdigest()[:12]}"
    pipeline_id = client.get_pipeline_id(settings.pipeline_name)
    if pipeline_id is None:
        pipeline_id = client.upload_pipeline(settings.package_path, settings.pipeline_name,
                                             namespace=settings.namespace).pipeline_id
    else:
        versions = client.list_pipeline_versions(
            pipeline_id, page_size=PAGE_SIZE, filter=name_filter(version_name)).pipeline_versions
        if versions:
            print(f"Pipeline version {version_name}: already uploaded")
            return pipeline_id, versions[0].pipeline_version_id
    version = client.upload_pipeline_version(settings.package_path, version_name,
                                             pipeline_id=pipeline_id)
    return pipeline_id, version.pipeline_version_id


def schedule(client, settings: ScheduleSettings, experiment_id: str, pipeline_id: str,
             version_id: str) -> str:
    """Creates the recurring run or replaces a different one; returns 'created', 'updated' or 'unchanged'."""
    wanted = RecurringRunSpec(version_id, settings.schedule.cron, settings.schedule.interval_seconds,
                              settings.max_concurrency, settings.no_catchup, enabled=True)
    existing = client.list_recurring_runs(
        experiment_id=experiment_id, page_size=PAGE_SIZE,
        filter=name_filter(settings.recurring_run_name)).recurring_runs or []
    keep = next((run for run in existing if RecurringRunSpec.of(run) == wanted), None)
    if keep is None:
        keep = client.create_recurring_run(
            experiment_id=experiment_id, job_name=settings.recurring_run_name,
            cron_expression=settings.schedule.cron or None,
            interval_second=settings.schedule.interval_seconds or None,
            max_concurrency=settings.max_concurrency, no_catchup=settings.no_catchup,
            pipeline_id=pipeline_id, version_id=version_id, enabled=True)
    for run in existing:
        if run.recurring_run_id != keep.recurring_run_id:
            client.delete_recurring_run(run.recurring_run_id)
    if not existing:
        return "created"
    return "unchanged" if len(existing) == 1 and existing[0] is keep else "updated"


def name_filter(display_name: str) -> str:
    """A v2beta1 list filter on the exact display name."""
    return json.dumps({"predicates": [
        {"operation": "EQUALS", "key": "display_name", "stringValue": display_name}]})


def main(argv=None) -> None:
    import kfp

    settings, once = parse_args(argv)
    client = kfp.Client(host=settings.host)
    experiment_id = client.create_experiment(
        settings.experiment_name, namespace=settings.namespace).experiment_id
    pipeline_id, version_id = upload(client, settings)
    if once:
        started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        run = client.run_pipeline(experiment_id, f"{settings.pipeline_name} {started}",
                                  pipeline_id=pipeline_id, version_id=version_id)
        print(f"Run {run.run_id} started (pipeline version {version_id})")
        return
    outcome = schedule(client, settings, experiment_id, pipeline_id, version_id)
    trigger = (f"cron '{settings.schedule.cron}'" if settings.schedule.cron
               else f"every {settings.schedule.interval_seconds} s")
    print(f"Recurring run {settings.recurring_run_name!r} {outcome}: {trigger}, "
          f"pipeline version {version_id}, max concurrency {settings.max_concurrency}, "
          f"no catch-up")


if __name__ == "__main__":
    main()
