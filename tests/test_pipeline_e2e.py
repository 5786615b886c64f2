"""The whole pipeline on a slice of the bundled digits, checked through MLMD and its artifacts."""
import json
import os
import re
import subprocess
import sys

import pytest

from components.push import serving_folder as push
from tests.metadata_store import node_executions
from pipeline import bundled_data, configs, run_local
from components.ingest.settings import IngestSettings
from components.evaluation.gate import EvaluationSettings, GateConfig
from components.evaluation.result import read_result
from modules.images import ImageSpec
from modules.training.config import TrainerConfig

# A few hundred steps make no good generator: these runs test the plumbing, so their gate
# blesses any generator whose FID can be computed.
ANY_FINITE_FID = GateConfig(max_fid_ratio=1e9, min_recall=0.0, min_precision=0.0)
COMPONENTS = ("FileBasedExampleGen", "StatisticsGen", "SchemaGen", "ConstrainedSchema",
              "ExampleValidator", "AnomaliesGate", "Transform", "Trainer", "FidEvaluator",
              "GeneratorPusher")

# Runs in a fresh interpreter that imports nothing but TensorFlow.
LOAD_PUSHED_MODEL = r"""
import json, sys
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
latent_dim = serve.structured_input_signature[1]["noise"].shape[-1]
images = serve(noise=tf.random.normal([5, latent_dim]))["images"].numpy()
print(json.dumps({
    "shape": list(images.shape), "min": float(images.min()), "max": float(images.max()),
    "project_modules": sorted(m for m in sys.modules
                              if m.split(".")[0] in ("modules", "components", "pipeline")),
}))
"""


def run_flags(root) -> list[str]:
    """`make run`'s command line on a slice of the digits: short training, a gate that
    blesses any generator whose FID can be computed (a few hundred steps make no good
    one: these runs test the plumbing), the plain (not averaged) generator, and its
    compressed copies."""
    return ["--data-dir", str(root / "digits"), "--output-dir", str(root / "out"),
            "--serving-dir", str(root / "serving"), "--train-steps", "300",
            "--max-fid-ratio", "1e9", "--min-recall", "0", "--min-precision", "0",
            "--fid-samples", "300", "--compressed-precisions", "float16,int8",
            "--compressed-fid-tolerance", "1e9"] + [
        arg for option in ("log_every_steps=100", "sample_every_steps=100", "fid_every_steps=0",
                           "ema_half_life_images=0", "generator_learning_rate=2e-4",
                           "discriminator_learning_rate=2e-4")
        for arg in ("--trainer-option", option)]


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    """`python -m pipeline.run_local` as `make run` starts it: its config, stdout and stderr."""
    root = tmp_path_factory.mktemp("e2e")
    bundled_data.write_digits(root / "digits", limit=800)
    flags = run_flags(root)
    env = {name: value for name, value in os.environ.items()
           if name not in ("GAN_PIPELINE_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    completed = subprocess.run([sys.executable, "-m", "pipeline.run_local", *flags],
                               capture_output=True, text=True, timeout=3600,
                               cwd=configs.PROJECT_ROOT, env=env)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return run_local.parse_args(flags).config, completed, flags


@pytest.fixture(scope="module")
def pipeline_run(make_run):
    return make_run[0]


@pytest.mark.e2e
def test_the_terminal_shows_a_line_per_component_and_the_summary_and_the_log_the_rest(make_run):
    config, completed, _ = make_run
    lines = completed.stdout.splitlines()
    assert len(lines) < 100, completed.stdout
    assert "INFO" not in completed.stderr and len(completed.stderr.splitlines()) < 5
    log_path = lines[0].removeprefix("Log: ")
    assert os.path.dirname(log_path) == os.path.join(config.output_dir, "logs")
    for number, node in enumerate(COMPONENTS, start=1):
        prefix = rf"\[\s*{number}/{len(COMPONENTS)}\] {node}\s+"
        assert any(re.fullmatch(prefix + "started", line) for line in lines), node
        assert any(re.match(prefix + r"done in ", line) for line in lines), node
    finished = {re.match(r"\[\s*\d+/\d+\] (\w+)", line).group(1): line
                for line in lines if " done in " in line}
    assert re.search(r": 800 inputs, \d+ train \+ \d+ eval images written, 0 rejected "
                     r"\(report: .*/reports/ingestion_report-.*\.json\)$",
                     finished["FileBasedExampleGen"])
    assert finished["AnomaliesGate"].endswith(": no schema anomalies")
    assert re.search(r": step 300, 19200 images seen, discriminator_loss [\d.]+, "
                     r"generator_loss [\d.]+$",
                     finished["Trainer"])
    assert re.search(r": FID [\d.]+ = [\d.]+x the real-vs-real floor: BLESSED$",
                     finished["FidEvaluator"])
    assert re.search(r": pushed version \d+ to ", finished["GeneratorPusher"])
    assert any(line.startswith("Training") and "img/s" in line
               for line in completed.stdout.replace("\r", "\n").splitlines())
    for label in ("ML Metadata:", "FID:", "Decision:           BLESSED", "Sample grid:",
                  "Pushed generator:   version"):
        assert any(line.startswith(label) for line in lines), label
    with open(log_path) as log:
        logged = log.read()
    assert logged.count("\n") > 20 * len(lines)  # the full detail is in the log
    for node in COMPONENTS:
        assert f"Component {node} is finished." in logged
    assert "Going to run a new execution" in logged and "step 300/300" in logged


@pytest.mark.e2e
def test_every_component_ran_and_the_generator_was_blessed_and_pushed(pipeline_run):
    from ml_metadata.proto import metadata_store_pb2

    store, executions = node_executions(pipeline_run.metadata_path)
    assert set(executions) == set(COMPONENTS)
    for node in COMPONENTS:
        assert [e.last_known_state for e in executions[node]] == [
            metadata_store_pb2.Execution.COMPLETE], node

    (examples,) = [artifact for artifact in store.get_artifacts_by_type("Examples")
                   if "inputs_seen" in artifact.custom_properties]  # ExampleGen's, not Transform's
    with open(os.path.join(examples.uri, "ingestion_report.json")) as source:
        report = json.load(source)
    assert report["inputs_seen"] == examples.custom_properties["inputs_seen"].int_value == 800
    assert report["rejected"] == 0 and sum(report["examples_written"].values()) == 800
    (transform_graph,) = store.get_artifacts_by_type("TransformGraph")
    vocabulary = os.path.join(transform_graph.uri, "transform_fn", "assets", "label_vocabulary")
    with open(vocabulary) as source:
        assert sorted(source.read().split()) == [str(digit) for digit in range(10)]

    blessings = store.get_artifacts_by_type("ModelBlessing")
    assert [b.custom_properties["blessed"].int_value for b in blessings] == [1]
    assert blessings[0].custom_properties["deciding_condition"].string_value == "all"
    pushed = store.get_artifacts_by_type("PushedModel")
    assert [p.custom_properties["pushed"].int_value for p in pushed] == [1]

    evaluation = store.get_artifacts_by_type("ModelEvaluation")[0]
    with open(os.path.join(evaluation.uri, "metrics.json")) as source:
        result = json.load(source)
    assert result["blessed"] is True
    assert 0 < result["fid"] < 1e9 and result["fid_real_floor"] < result["fid"]
    assert result["fid_ratio"] == pytest.approx(result["fid"] / result["fid_real_floor"])
    assert result["reason"].startswith("FID is ") and "x the real-vs-real floor" in result["reason"]
    assert result["num_generated"] == 300 and result["num_real_eval"] > 64
    assert 0 <= result["precision"] <= 1 and 0 <= result["recall"] <= 1
    assert result["baseline_fid"] is None and result["baseline_source"] == "nothing is served yet"
    for name in ("generated_grid.png", "real_grid.png", "report.html"):
        assert os.path.getsize(os.path.join(evaluation.uri, name)) > 0
    (served_version,) = push.versions(pipeline_run.serving_dir)
    assert push.read_version_file(pipeline_run.serving_dir, served_version,
                                  push.EVALUATION_FILE)["fid"] == result["fid"]
    # The compressed copies, scored the same way and pushed beside it with its version.
    assert set(result["compressed"]) == {"float16", "int8"}
    for precision, scored in result["compressed"].items():
        assert 0 < scored["fid"] < 1e9
        copies = push.compressed_serving_dir(pipeline_run.serving_dir, precision)
        assert push.versions(copies) == [served_version]
        assert push.read_version_file(copies, served_version,
                                      push.EVALUATION_FILE)["fid"] == scored["fid"]
    assert pushed[0].custom_properties["compressed"].string_value.count("within") == 2

    model_run = store.get_artifacts_by_type("ModelRun")[0]
    assert os.path.isfile(os.path.join(model_run.uri, "sample_grid.png"))
    assert os.listdir(os.path.join(model_run.uri, "samples"))
    assert any(name.startswith("events.out.tfevents") for _, _, names in os.walk(model_run.uri)
               for name in names)


@pytest.mark.e2e
def test_ml_metadata_records_the_extractor_that_scored_the_model(make_run):
    """The domain classifier lives in the FID cache, outside the pipeline root: the
    evaluation and the blessing say which one scored the model, and the summary shows it."""
    from modules.quality.trained_extractors import fid_dim

    config, completed, _ = make_run
    store, _ = node_executions(config.metadata_path)
    evaluation = store.get_artifacts_by_type("ModelEvaluation")[0]
    blessing = store.get_artifacts_by_type("ModelBlessing")[0]
    result = read_result(evaluation.uri)
    name, _, key = result.extractor.partition(":")
    assert name == "domain_classifier" and key
    # Its cache entry (the classifier's weights) is named by that key.
    assert any(key in entry for entry in os.listdir(config.fid_cache_dir))
    for artifact in (evaluation, blessing):
        recorded = artifact.custom_properties
        assert recorded["extractor"].string_value == result.extractor
        assert (recorded["extractor_feature_dim"].int_value == result.extractor_feature_dim
                == fid_dim(name, config.image))
        assert recorded["extractor_cache_dir"].string_value == config.fid_cache_dir
        assert 0 < recorded["extractor_holdout_accuracy"].double_value <= 1
    assert f"FID extractor:      {result.extractor} ({result.extractor_feature_dim} " \
           f"features, held-out accuracy" in completed.stdout
    assert f"FID cache:          {config.fid_cache_dir}" in completed.stdout


@pytest.mark.e2e
def test_pushed_generator_serves_in_a_process_that_imports_only_tensorflow(pipeline_run):
    (version,) = push.versions(pipeline_run.serving_dir)
    version_dir = os.path.join(pipeline_run.serving_dir, str(version))
    assert os.path.isfile(os.path.join(version_dir, "saved_model.pb"))

    completed = subprocess.run([sys.executable, "-c", LOAD_PUSHED_MODEL, version_dir],
                               capture_output=True, text=True, timeout=300, cwd="/",
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["shape"] == [5, 8, 8, 1]
    assert 0.0 <= result["min"] <= result["max"] <= 1.0
    assert result["project_modules"] == []


@pytest.mark.e2e
def test_second_run_with_the_beam_runner_is_served_from_cache(pipeline_run):
    from ml_metadata.proto import metadata_store_pb2

    run_local.run(pipeline_run, runner="beam")
    _, executions = node_executions(pipeline_run.metadata_path)
    for node in COMPONENTS:
        assert executions[node][-1].last_known_state == metadata_store_pb2.Execution.CACHED, node
    assert len(push.versions(pipeline_run.serving_dir)) == 1


@pytest.mark.e2e
def test_editing_the_report_code_reruns_only_evaluation_and_push(pipeline_run, tmp_path,
                                                                 monkeypatch):
    """Each stage's cache key covers its own code: the report is evaluation code only."""
    import shutil

    from ml_metadata.proto import metadata_store_pb2

    from pipeline import code_version

    edited = tmp_path / "project"
    for package in code_version.PROJECT_PACKAGES:
        shutil.copytree(code_version.PROJECT_ROOT / package, edited / package)
    with open(edited / "components" / "evaluation" / "report.py", "a") as source:
        source.write("\n# an edit to the report's code\n")
    checkpoints_before = sorted(os.listdir(pipeline_run.checkpoint_root))
    monkeypatch.setattr(code_version, "PROJECT_ROOT", edited)

    run_local.run(pipeline_run, runner="local")

    _, executions = node_executions(pipeline_run.metadata_path)
    states = {node: executions[node][-1].last_known_state for node in COMPONENTS}
    rerun = {"FidEvaluator", "GeneratorPusher"}
    for node in COMPONENTS:
        expected = (metadata_store_pb2.Execution.COMPLETE if node in rerun
                    else metadata_store_pb2.Execution.CACHED)
        assert states[node] == expected, node
    assert sorted(os.listdir(pipeline_run.checkpoint_root)) == checkpoints_before


def failed_run(flags, capsys):
    """Runs `run_local.main`, which must fail; returns its message and the terminal lines."""
    with pytest.raises(SystemExit) as stop:
        run_local.main(flags)
    message = str(stop.value.code)
    terminal = capsys.readouterr().out
    assert "Traceback" not in message + terminal
    lines = message.splitlines()
    log_path = lines[-1].removeprefix("Full log (with the traceback): ")
    with open(log_path) as log:
        assert "Traceback (most recent call last)" in log.read()
    assert f"Log: {log_path}" in terminal.splitlines()
    assert len(terminal.splitlines()) < 40 and len(lines) < 15
    return message, terminal


# The next three runs reuse the first run's outputs (ingest to Trainer come from the cache)
# and come after the tests that count its executions.
@pytest.mark.e2e
def test_a_diverging_trainer_ends_in_one_message(make_run, capsys):
    message, terminal = failed_run(make_run[2] + [
        "--trainer-option", "generator_learning_rate=1e30",
        "--trainer-option", "discriminator_learning_rate=1e30"], capsys)
    assert re.match(r"error: Trainer failed: training diverged at step \d+: .* not finite "
                    r"\(after 0 rollbacks\); nothing is exported\. Lower the learning rates",
                    message), message
    assert "[ 8/10] Trainer             started" in terminal
    assert "[ 7/10] Transform           cached in" in terminal


@pytest.mark.e2e
def test_an_extractor_that_cannot_be_read_is_refused_before_any_component_runs(
        make_run, capsys, tmp_path):
    message, terminal = failed_run(make_run[2] + [
        "--fid-extractor", "inception",
        "--fid-extractor-path", str(tmp_path / "inception-2015-12-05.tgz")], capsys)
    assert message.startswith("error: --fid-extractor-path: cannot read the Inception-v3 FID "
                              f"weights from '{tmp_path}"), message
    assert "[ 1/10]" not in terminal


@pytest.mark.e2e
def test_when_nothing_is_blessed_the_summary_names_the_version_still_served(make_run, capsys):
    config = make_run[0]
    (served,) = push.versions(config.serving_dir)
    run_local.main(make_run[2] + ["--fid-threshold", "0.0001"])
    lines = capsys.readouterr().out.splitlines()
    assert any(re.search(r"FidEvaluator +done in .*: NOT blessed \(FID [\d.]+ is above the "
                         r"limit 0.0001\)$", line) for line in lines)
    assert any(re.search(r"GeneratorPusher +done in .*: nothing pushed", line) for line in lines)
    assert (f"Pushed generator:   nothing this run (not blessed); serving version {served} "
            f"({os.path.join(config.serving_dir, str(served))})") in lines
    assert push.versions(config.serving_dir) == [served]


@pytest.mark.e2e
def test_too_many_rejected_images_end_in_one_message_and_a_report_that_outlives_the_run(
        tmp_path, capsys):
    # Enough digits for the eval split to exceed the extractor's 128 feature dimensions.
    bundled_data.write_digits(tmp_path / "digits", limit=800)
    for index in range(100):
        (tmp_path / "digits" / f"broken_{index}.png").write_bytes(b"not a png")
    message, _ = failed_run(["--data-dir", str(tmp_path / "digits"),
                             "--output-dir", str(tmp_path / "out")], capsys)
    assert message.startswith("error: FileBasedExampleGen failed: 100 of 900 inputs in "), message
    assert "over the limit of 10.0% (--max-rejected-fraction, " in message
    report_path = re.search(r"Report: (\S+)\n", message).group(1)
    assert os.path.dirname(report_path) == str(tmp_path / "out" / "reports")
    with open(report_path) as source:
        report = json.load(source)
    assert sorted(entry["path"] for entry in report["rejections"]) == sorted(
        f"broken_{index}.png" for index in range(100))


@pytest.mark.e2e
def test_three_images_that_leave_the_eval_split_empty_end_in_one_message(tmp_path, capsys):
    import tensorflow as tf
    from PIL import Image

    from components.ingest.beam_job import split_of
    from modules import features

    def goes_to_train(name):  # TFX's hash split of the path, 80 of 100 buckets for train
        path = tf.train.Feature(bytes_list=tf.train.BytesList(value=[name.encode()]))
        example = tf.train.Example(features=tf.train.Features(feature={features.PATH: path}))
        return split_of(example, 2, features.PATH, [80, 100]) == 0

    names = [name for name in (f"digit_{index}.png" for index in range(20))
             if goes_to_train(name)][:3]
    (tmp_path / "digits").mkdir()
    for name, pixels in zip(names, bundled_data.digits_as_uint8()[0]):
        Image.fromarray(pixels, mode="L").save(tmp_path / "digits" / name)
    message, terminal = failed_run(["--data-dir", str(tmp_path / "digits"),
                                    "--output-dir", str(tmp_path / "out")], capsys)
    assert message.startswith(f"error: --train-fraction 0.8: the eval split of "
                              f"{tmp_path / 'digits'} gets at most 0 of its 3 images"), message
    assert "add images" in message and "[ 1/10]" not in terminal


@pytest.mark.e2e
def test_data_that_breaks_the_schema_stops_the_run_with_the_anomalies(tmp_path, capsys):
    bundled_data.write_digits(tmp_path / "digits", limit=800)
    message, terminal = failed_run(["--data-dir", str(tmp_path / "digits"),
                                    "--output-dir", str(tmp_path / "out"),
                                    "--min-image-side", "16"], capsys)
    assert message.startswith("error: AnomaliesGate failed: ExampleValidator found anomalies; "
                              "the run stops before Transform and training:"), message
    assert "[ 7/10] Transform" not in terminal


@pytest.mark.e2e
def test_tfrecord_input_with_its_own_image_feature_name_and_rgb_16x16(tmp_path):
    import numpy as np
    import tensorflow as tf

    bundled_data.write_digits(tmp_path / "digits", limit=800)
    records = tmp_path / "records"
    records.mkdir()
    with tf.io.TFRecordWriter(str(records / "digits.tfrecord")) as writer:
        for path in sorted((tmp_path / "digits").glob("*/*.png")):
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                "image_png": tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[path.read_bytes()])),
                "label": tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[path.parent.name.encode()])),
            })).SerializeToString())
    config = configs.PipelineConfig(
        data_dir=str(records), output_dir=str(tmp_path / "out"),
        serving_dir=str(tmp_path / "serving"), image=ImageSpec(16, 3),
        ingest=IngestSettings(input_format="tfrecord", image_feature="image_png"),
        training=TrainerConfig(train_steps=40, log_every_steps=20, sample_every_steps=20),
        evaluation=EvaluationSettings(gate=ANY_FINITE_FID, fid_num_samples=200))

    run_local.run(config, runner="local")

    _, executions = node_executions(config.metadata_path)
    assert "FileBasedExampleGen" in executions and "FidEvaluator" in executions
    (version,) = push.versions(config.serving_dir)
    serve = tf.saved_model.load(os.path.join(config.serving_dir, str(version))).signatures[
        "serving_default"]
    images = serve(noise=tf.zeros([2, TrainerConfig().latent_dim]))["images"].numpy()
    assert images.shape == (2, 16, 16, 3) and np.all((images >= 0) & (images <= 1))
