"""The ingestion report: what ExampleGen saw, wrote and rejected, and the bounds that stop a run.

The Beam job streams its rejections to JSON-lines shards; `write_report` merges
them into `ingestion_report.json` one line at a time, so the report never has
to fit in memory. Free of TFX and Beam (files go through `tf.io.gfile`, so the
artifact may live on any filesystem TensorFlow reads).
"""
from __future__ import annotations

import collections
import dataclasses
import datetime
import json
import os

import tensorflow as tf

from components.ingest.decoding import REASONS, Rejection

REPORT_FILE_NAME = "ingestion_report.json"


class IngestionError(RuntimeError):
    """The input cannot make a dataset: nothing usable, or too much of it rejected."""


@dataclasses.dataclass(frozen=True)
class IngestionSummary:
    """The counts of one ingest; `inputs_seen` = written + rejected, always."""

    inputs_seen: int
    examples_written: dict[str, int]
    rejected_by_reason: dict[str, int]

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    @property
    def written(self) -> int:
        return sum(self.examples_written.values())

    @property
    def rejected_fraction(self) -> float:
        return self.rejected / self.inputs_seen if self.inputs_seen else 0.0

    def describe(self) -> str:
        reasons = ", ".join(f"{count} {reason}" for reason, count in
                            self.rejected_by_reason.items() if count) or "none"
        splits = ", ".join(f"{count} {split}" for split, count in self.examples_written.items())
        return (f"{self.inputs_seen} inputs seen, {self.written} examples written ({splits}), "
                f"{self.rejected} rejected ({reasons})")


def rejection_to_json_line(rejection: Rejection) -> str:
    return json.dumps(dataclasses.asdict(rejection), sort_keys=True)


def write_report(report_path: str, source: dict, inputs_seen: int,
                 examples_written: dict[str, int], rejection_files: list[str]) -> IngestionSummary:
    """Writes the JSON report: the counts, then every rejection streamed from the shards.

    Raises RuntimeError when the counts do not add up: an input was lost.
    """
    by_reason = collections.Counter({reason: 0 for reason in REASONS})
    for line in _rejection_lines(rejection_files):
        by_reason[json.loads(line)["reason"]] += 1
    summary = IngestionSummary(inputs_seen, dict(examples_written), dict(by_reason))
    header = {"source": source, "inputs_seen": inputs_seen,
              "examples_written": summary.examples_written, "rejected": summary.rejected,
              "rejected_by_reason": summary.rejected_by_reason,
              "rejected_fraction": summary.rejected_fraction}
    with tf.io.gfile.GFile(report_path, "w") as report:
        report.write(json.dumps(header, indent=2)[:-2] + ',\n  "rejections": [')
        for index, line in enumerate(_rejection_lines(rejection_files)):
            report.write(("," if index else "") + "\n    " + line)
        report.write("\n  ]\n}\n")
    if summary.written + summary.rejected != inputs_seen:
        raise RuntimeError(f"Ingest lost track of inputs: {summary.describe()}; see {report_path}")
    return summary


def _rejection_lines(rejection_files: list[str]):
    for shard in sorted(rejection_files):
        with tf.io.gfile.GFile(shard) as lines:
            for line in lines:
                if line.strip():
                    yield line.strip()


def check_bounds(summary: IngestionSummary, source: str, max_rejected_fraction: float,
                 report_path: str) -> None:
    """Fails the run when no image is usable, too large a fraction was rejected, or a split
    got no image (training or evaluation would have nothing to read)."""
    if summary.written == 0:
        raise IngestionError(
            f"No valid image found in {source}: {summary.describe()}. Report: {report_path}")
    if summary.rejected_fraction > max_rejected_fraction:
        raise IngestionError(
            f"{summary.rejected} of {summary.inputs_seen} inputs in {source} were rejected "
            f"({summary.rejected_fraction:.1%}), over the limit of {max_rejected_fraction:.1%} "
            f"(--max-rejected-fraction, setting max_rejected_fraction): {summary.describe()}. "
            f"Report: {report_path}")
    empty = [split for split, count in summary.examples_written.items() if count == 0]
    if empty:
        raise IngestionError(
            f"The {' and '.join(empty)} split got no image from {source}: "
            f"{summary.describe()}. Each image goes to a split by a hash of its path, so a "
            "handful of images can leave a split empty: add images (a few dozen at least) or "
            f"change --train-fraction. Report: {report_path}")


def keep_report(report_path: str, report_dir: str) -> str:
    """Copies the report to `report_dir` under a UTC time stamp, where it outlives a failed
    run (the orchestrator deletes a failed execution's outputs); returns the copy's path."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    kept = os.path.join(report_dir, f"ingestion_report-{stamp}.json")
    tf.io.gfile.makedirs(report_dir)
    tf.io.gfile.copy(report_path, kept, overwrite=True)
    return kept


def count_records(split_dir: str) -> int:
    """The number of records in the gzipped TFRecord files of one output split."""
    files = tf.io.gfile.glob(os.path.join(split_dir, "*"))
    if not files:
        return 0
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return int(dataset.reduce(tf.constant(0, tf.int64), _count_one))


@tf.autograph.experimental.do_not_convert  # plain TF already; AutoGraph cannot parse lambdas
def _count_one(count, _):
    return count + 1
