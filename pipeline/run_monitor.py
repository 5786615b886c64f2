"""One terminal line when each component starts and one when it finishes.

The hook: both local runners log one fixed message before and after each node
(`tfx/orchestration/local/local_dag_runner.py`: "Component %s is running." /
"Component %s is finished."; `tfx/orchestration/beam/beam_dag_runner.py`:
"node %s is running." / "node %s is finished."; the same in TFX 1.16 and 1.21).
A logging handler recognises those two format strings (not the formatted text)
and, when a node finishes, reads what it did from ML Metadata: whether its
execution ran or was cached, and the key results its artifacts record. This
needs no change to the pipeline definition (which Kubeflow compiles too), no
private TFX class, and no second thread reading the store while the runner
writes it: the handler runs in the runner's own thread, between two nodes.
The e2e test fails if a TFX release changes those messages.
"""
from __future__ import annotations

import json
import logging
import os
import time
from typing import Callable

from modules.training.config import TRAINING_RESULT_FILE

RUNNER_MESSAGES = {
    "Component %s is running.": "running", "Component %s is finished.": "finished",
    "node %s is running.": "running", "node %s is finished.": "finished",
}
VALIDATION_GATE = "AnomaliesGate"


class ComponentMonitor(logging.Handler):
    """Prints the start and the end of each pipeline node through `say`."""

    def __init__(self, metadata_path: str, pipeline_name: str, node_ids: list[str],
                 say: Callable[[str], None]):
        super().__init__(logging.INFO)
        self.metadata_path = metadata_path
        self.pipeline_name = pipeline_name
        self.node_ids = list(node_ids)
        self.say = say
        self.running: str | None = None     # the node that has started and not finished
        self.finished: dict[str, str] = {}  # node id -> its finish line
        self._started = 0.0
        self._width = max(len(node) for node in self.node_ids)

    def emit(self, record: logging.LogRecord) -> None:
        event = RUNNER_MESSAGES.get(record.msg) if isinstance(record.msg, str) else None
        if event is None or not record.args:
            return
        node = str(record.args[0])
        if event == "running":
            self.running, self._started = node, time.monotonic()
            self.say(f"{self._prefix(node)} started")
        elif node == self.running:
            self.running = None
            self.finished[node] = self._finish_line(node, time.monotonic() - self._started)
            self.say(self.finished[node])

    def _prefix(self, node: str) -> str:
        number = self.node_ids.index(node) + 1 if node in self.node_ids else 0
        return f"[{number:2d}/{len(self.node_ids)}] {node:<{self._width}}"

    def _finish_line(self, node: str, seconds: float) -> str:
        try:
            state, outputs = last_execution(self.metadata_path, self.pipeline_name, node)
            result = describe_outputs(node, outputs)
        except Exception as error:  # the line must never fail the run it reports on
            logging.getLogger(__name__).warning("could not read %s's execution from ML "
                                                "Metadata: %s", node, error)
            state, result = "finished", ""
        return (f"{self._prefix(node)} {state} in {_duration(seconds)}"
                + (f": {result}" if result else ""))


def last_execution(metadata_path: str, pipeline_name: str, node: str
                   ) -> tuple[str, dict]:
    """The state of a node's newest execution ("done", "cached" or "finished") and its
    output artifacts by type name."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = metadata_path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    store = metadata_store.MetadataStore(connection)
    context = store.get_context_by_type_and_name("node", f"{pipeline_name}.{node}")
    execution = max(store.get_executions_by_context(context.id), key=lambda e: e.id)
    state = {metadata_store_pb2.Execution.CACHED: "cached",
             metadata_store_pb2.Execution.COMPLETE: "done"}.get(
        execution.last_known_state, "finished")
    output_ids = [event.artifact_id for event in
                  store.get_events_by_execution_ids([execution.id])
                  if event.type in (metadata_store_pb2.Event.OUTPUT,
                                    metadata_store_pb2.Event.DECLARED_OUTPUT)]
    types = {t.id: t.name for t in store.get_artifact_types()}
    return state, {types[a.type_id]: a for a in store.get_artifacts_by_id(output_ids)}


def describe_outputs(node: str, outputs: dict) -> str:
    """The key result a node's output artifacts record, in a few words ('' for none)."""
    if node == VALIDATION_GATE:  # it raises on any anomaly, so finishing means none
        return "no schema anomalies"
    def number(artifact, name):
        value = artifact.custom_properties.get(name)
        return None if value is None else getattr(value, value.WhichOneof("value"))

    examples = outputs.get("Examples")
    if examples is not None and "inputs_seen" in examples.custom_properties:
        report = examples.custom_properties["ingestion_report"].string_value
        return (f"{number(examples, 'inputs_seen')} inputs, "
                f"{number(examples, 'examples_written_train')} train + "
                f"{number(examples, 'examples_written_eval')} eval images written, "
                f"{number(examples, 'rejected')} rejected (report: {report})")
    model_run = outputs.get("ModelRun")
    if model_run is not None:
        path = os.path.join(model_run.uri, TRAINING_RESULT_FILE)
        if os.path.isfile(path):
            with open(path) as source:
                result = json.load(source)
            losses = ", ".join(f"{name} {value:.4f}"
                               for name, value in sorted(result["losses"].items()))
            return f"step {result['step']}, {result['images_seen']} images seen, {losses}"
    blessing = outputs.get("ModelBlessing")
    if blessing is not None:
        # A metric that could not be computed is absent, never NaN.
        fid, ratio = number(blessing, "fid"), number(blessing, "fid_ratio")
        measured = (f"FID {fid:.4f} = {ratio:.2f}x the real-vs-real floor" if ratio is not None
                    else "FID not available")
        if number(blessing, "blessed") == 1:
            return f"{measured}: BLESSED"
        reason = blessing.custom_properties.get("reason")
        return f"{measured}: NOT blessed ({reason.string_value if reason else 'no reason'})"
    pushed = outputs.get("PushedModel")
    if pushed is not None:
        if number(pushed, "pushed") == 1:
            return (f"pushed version {number(pushed, 'pushed_version')} to "
                    f"{pushed.custom_properties['pushed_destination'].string_value}")
        reason = pushed.custom_properties.get("reason")
        return "nothing pushed: " + (reason.string_value if reason
                                     else "the generator was not blessed")
    return ""


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:.0f} s"
