"""The component lines: what each finishing node's artifacts (ML Metadata records) say."""
import json
import logging

from ml_metadata.proto import metadata_store_pb2

from modules.training.config import TRAINING_RESULT_FILE
from pipeline.run_monitor import ComponentMonitor, describe_outputs


def artifact(uri="", **properties):
    record = metadata_store_pb2.Artifact(uri=str(uri))
    for name, value in properties.items():
        field = {int: "int_value", float: "double_value", str: "string_value"}[type(value)]
        setattr(record.custom_properties[name], field, value)
    return record


def test_each_nodes_key_result(tmp_path):
    examples = artifact(inputs_seen=600, examples_written_train=480, examples_written_eval=120,
                        rejected=0, ingestion_report="/out/reports/ingestion_report-1.json")
    assert describe_outputs("FileBasedExampleGen", {"Examples": examples}) == (
        "600 inputs, 480 train + 120 eval images written, 0 rejected "
        "(report: /out/reports/ingestion_report-1.json)")
    assert describe_outputs("AnomaliesGate", {"Schema": artifact()}) == "no schema anomalies"
    assert describe_outputs("StatisticsGen", {"ExampleStatistics": artifact()}) == ""

    (tmp_path / TRAINING_RESULT_FILE).write_text(json.dumps(
        {"step": 300, "images_seen": 19200,
         "losses": {"generator_loss": 0.91234, "discriminator_loss": 1.2}}))
    assert describe_outputs("Trainer", {"Model": artifact(), "ModelRun": artifact(tmp_path)}) \
        == "step 300, 19200 images seen, discriminator_loss 1.2000, generator_loss 0.9123"

    # As the FidEvaluator records them: FID in floor units, the reason; no FID when it
    # could not be computed (never NaN).
    evaluation = artifact(fid_real_floor=0.8)
    assert describe_outputs("FidEvaluator", {
        "ModelBlessing": artifact(blessed=1, fid=1.6, fid_ratio=2.0),
        "ModelEvaluation": evaluation}) == "FID 1.6000 = 2.00x the real-vs-real floor: BLESSED"
    assert describe_outputs("FidEvaluator", {
        "ModelBlessing": artifact(blessed=0, fid=9.0, fid_ratio=11.25,
                                  reason="FID is 11.2x the real-vs-real floor (limit 3.0x)"),
        "ModelEvaluation": evaluation}) == (
        "FID 9.0000 = 11.25x the real-vs-real floor: NOT blessed (FID is 11.2x the real-vs-real "
        "floor (limit 3.0x))")
    assert describe_outputs("FidEvaluator", {
        "ModelBlessing": artifact(blessed=0, reason="FID could not be computed"),
        "ModelEvaluation": evaluation}) == (
        "FID not available: NOT blessed (FID could not be computed)")

    assert describe_outputs("GeneratorPusher", {"PushedModel": artifact(
        pushed=1, pushed_version=17, pushed_destination="/serving/17")}) == \
        "pushed version 17 to /serving/17"
    assert describe_outputs("GeneratorPusher", {"PushedModel": artifact(pushed=0)}) == \
        "nothing pushed: the generator was not blessed"


def test_the_runners_messages_become_start_and_finish_lines(tmp_path):
    lines = []
    monitor = ComponentMonitor(str(tmp_path / "absent.sqlite"), "gan-pipeline",
                               ["FileBasedExampleGen", "Trainer"], lines.append)
    logger = logging.getLogger("test_run_monitor")
    logger.addHandler(monitor)
    logger.setLevel(logging.INFO)
    try:
        logger.info("Component %s is running.", "FileBasedExampleGen")
        assert monitor.running == "FileBasedExampleGen"
        logger.info("Component %s is finished.", "FileBasedExampleGen")
        logger.info("node %s is running.", "Trainer")  # BeamDagRunner's wording
        logger.info("Component %s is running now.", "Trainer")  # not the runner's message
    finally:
        logger.removeHandler(monitor)
    assert lines[0] == "[ 1/2] FileBasedExampleGen started"
    # No store to read: the line still comes, without a result.
    assert lines[1].startswith("[ 1/2] FileBasedExampleGen finished in ")
    assert lines[2:] == ["[ 2/2] Trainer             started"]
    assert monitor.running == "Trainer"
