"""`python -m kubeflow.schedule` against a double of KFP's v2beta1 REST API: the exact calls."""
import shutil

import pytest

from kubeflow import schedule
from tests.kfp_server_double import API, KfpServerDouble

CREATE_FIRST_TIME = [
    f"GET {API}/healthz",
    f"GET {API}/experiments", f"POST {API}/experiments",
    f"GET {API}/pipelines", f"POST {API}/pipelines/upload", f"POST {API}/pipelines/upload_version",
    f"GET {API}/recurringruns", f"POST {API}/recurringruns",
]


@pytest.fixture
def kfp_server(monkeypatch, tmp_path):
    from kfp.client import client

    # No kfp context file from this machine: the client asks healthz, as on a fresh workstation.
    monkeypatch.setattr(client.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "context.json"))
    with KfpServerDouble() as server:
        yield server


@pytest.fixture
def package(compiled, tmp_path):
    path = tmp_path / "gan-pipeline.yaml"
    shutil.copy(compiled["package"], path)
    return path


def run_schedule(server, package, *flags):
    server.requests.clear()
    schedule.main(["--host", server.url, "--package", str(package), *flags])
    return server.calls()


def test_first_run_creates_experiment_pipeline_version_and_a_nightly_recurring_run(
        kfp_server, package):
    assert run_schedule(kfp_server, package) == CREATE_FIRST_TIME

    (pipeline,) = kfp_server.pipelines.values()
    assert pipeline["display_name"] == "gan-pipeline"
    version_names = sorted(v["display_name"] for v in kfp_server.versions.values())
    assert version_names[0] == "gan-pipeline" and version_names[1].startswith("gan-pipeline-")
    (recurring_run,) = kfp_server.recurring_runs.values()
    hashed_version = next(v for v in kfp_server.versions.values()
                          if v["display_name"] == version_names[1])
    assert recurring_run["display_name"] == "gan-pipeline-nightly"
    assert recurring_run["trigger"] == {"cron_schedule": {"cron": "0 0 2 * * *"}}
    assert recurring_run["max_concurrency"] == "1"
    assert recurring_run["no_catchup"] is True
    assert recurring_run["mode"] == "ENABLE"
    assert recurring_run["pipeline_version_reference"] == {
        "pipeline_id": pipeline["pipeline_id"],
        "pipeline_version_id": hashed_version["pipeline_version_id"]}
    uploaded = kfp_server.uploaded_specs[hashed_version["pipeline_version_id"]]
    assert uploaded[0]["pipelineInfo"]["name"] == "gan-pipeline"


def test_running_twice_with_the_same_settings_changes_nothing(kfp_server, package):
    run_schedule(kfp_server, package)
    (pipeline_id,) = kfp_server.pipelines

    assert run_schedule(kfp_server, package) == [
        f"GET {API}/healthz", f"GET {API}/experiments", f"GET {API}/pipelines",
        f"GET {API}/pipelines/{pipeline_id}/versions", f"GET {API}/recurringruns"]
    assert (len(kfp_server.experiments), len(kfp_server.pipelines), len(kfp_server.versions),
            len(kfp_server.recurring_runs)) == (1, 1, 2, 1)


def test_a_new_cron_replaces_the_recurring_run_new_first_then_deletes_the_old(kfp_server, package):
    run_schedule(kfp_server, package)
    (old_id,) = kfp_server.recurring_runs

    calls = run_schedule(kfp_server, package, "--cron", "0 30 3 * * 1-5")

    assert calls[-3:] == [f"GET {API}/recurringruns", f"POST {API}/recurringruns",
                          f"DELETE {API}/recurringruns/{old_id}"]
    assert f"POST {API}/pipelines/upload_version" not in calls
    (recurring_run,) = kfp_server.recurring_runs.values()
    assert recurring_run["trigger"] == {"cron_schedule": {"cron": "0 30 3 * * 1-5"}}
    assert recurring_run["max_concurrency"] == "1" and recurring_run["no_catchup"] is True


def test_a_changed_package_becomes_a_new_version_and_the_schedule_follows_it(kfp_server, package):
    run_schedule(kfp_server, package)
    (old_id,) = kfp_server.recurring_runs
    with open(package, "a") as spec:
        spec.write("# recompiled\n")

    calls = run_schedule(kfp_server, package)

    (pipeline_id,) = kfp_server.pipelines
    assert calls == [
        f"GET {API}/healthz", f"GET {API}/experiments", f"GET {API}/pipelines",
        f"GET {API}/pipelines/{pipeline_id}/versions", f"POST {API}/pipelines/upload_version",
        f"GET {API}/recurringruns", f"POST {API}/recurringruns",
        f"DELETE {API}/recurringruns/{old_id}"]
    (recurring_run,) = kfp_server.recurring_runs.values()
    newest_version = list(kfp_server.versions)[-1]
    assert recurring_run["pipeline_version_reference"]["pipeline_version_id"] == newest_version


def test_an_interval_schedule(kfp_server, package):
    run_schedule(kfp_server, package, "--interval-seconds", "21600")
    (recurring_run,) = kfp_server.recurring_runs.values()
    assert recurring_run["trigger"] == {"periodic_schedule": {"interval_second": "21600"}}
    assert recurring_run["max_concurrency"] == "1" and recurring_run["no_catchup"] is True


def test_once_starts_one_run_of_the_uploaded_version_and_schedules_nothing(kfp_server, package):
    calls = run_schedule(kfp_server, package, "--once")

    assert calls == CREATE_FIRST_TIME[:-2] + [f"POST {API}/runs"]
    (run,) = kfp_server.runs.values()
    assert run["display_name"].startswith("gan-pipeline ")
    assert run["pipeline_version_reference"]["pipeline_version_id"] == list(kfp_server.versions)[-1]
    assert kfp_server.recurring_runs == {}


def test_a_five_field_cron_is_refused_before_any_request(kfp_server, package, capsys):
    with pytest.raises(SystemExit):
        run_schedule(kfp_server, package, "--cron", "0 2 * * *")
    assert "6 fields, seconds first" in capsys.readouterr().err
    assert kfp_server.requests == []
