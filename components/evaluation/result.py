"""The evaluation record: what the FidEvaluator measured and decided, written as
`metrics.json` into its evaluation artifact and read back, typed, by the pusher, the
runner's summary and the next evaluation (through the served version's copy). Free of
TensorFlow but for `read_result`, so the runner can load it before anything heavy."""
from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any

from components.evaluation.gate import Check, GateConfig

# What the evaluation artifact holds besides the grids.
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"


@dataclasses.dataclass(frozen=True)
class Comparison:
    """How a FID was measured. Two FIDs are comparable only when all of these are equal:
    FID depends on the feature space, the real images and the sample count."""

    extractor: str      # the extractor's identity (its kind and, if trained, its weights)
    real_images: str    # fingerprint of the held-out images' pixels
    num_samples: int
    seed: int


@dataclasses.dataclass(frozen=True)
class CompressedScore:
    """A reduced-precision copy of the generator, scored as the float32 one was."""

    fid: float | None
    fid_refusal: str | None
    path: str


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
    """`metrics.json`: every measurement (None where it could not be computed, never NaN),
    the gate it was judged by, and the decision."""

    fid: float | None
    fid_refusal: str | None
    fid_real_floor: float | None
    fid_ratio: float | None
    kid_mean: float | None
    kid_std: float | None
    kid_subsets: int
    kid_subset_size: int
    precision: float | None
    recall: float | None
    precision_recall_k: int
    inception_score: float | None
    num_generated: int
    num_real_eval: int
    num_real_floor: int
    extractor: str
    extractor_feature_dim: int
    extractor_holdout_accuracy: float | None
    comparison: Comparison
    gate: GateConfig
    baseline_version: int | None
    baseline_fid: float | None
    baseline_source: str
    checks: tuple[Check, ...]
    deciding_condition: str
    blessed: bool
    reason: str
    compressed: dict[str, CompressedScore] = dataclasses.field(default_factory=dict)
    # Only on a compressed copy's record (see `for_compressed`): the float32 generator's FID.
    float32_fid: float | None = None

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{field.name} is {value}: record it as None (absent)")

    @property
    def verdict(self) -> str:
        """One line for people: `BLESSED: ...` or `NOT blessed: ...`."""
        return f"{'BLESSED' if self.blessed else 'NOT blessed'}: {self.reason}"

    def summary_lines(self) -> list[str]:
        """The evaluation as the runner's final summary prints it."""
        def number(value, spec):
            return "not available" if value is None else format(value, spec)

        served = ("nothing served before" if self.baseline_fid is None else
                  f"served version {self.baseline_version}: {self.baseline_fid:.4f}")
        fid = (f"{self.fid:.4f} = {self.fid_ratio:.2f}x the real-vs-real floor "
               f"{self.fid_real_floor:.4f}" if self.fid_ratio is not None
               else f"not available ({self.fid_refusal})")
        gated = ("not gated" if self.gate.min_inception_score is None
                 else f"minimum {self.gate.min_inception_score}")
        return [
            f"FID:                {fid} (limit {self.gate.max_fid_ratio}x; {served})",
            f"KID:                {number(self.kid_mean, '.5f')} ± "
            f"{number(self.kid_std, '.5f')}",
            f"Precision/recall:   {number(self.precision, '.3f')} / "
            f"{number(self.recall, '.3f')} (minimums {self.gate.min_precision} / "
            f"{self.gate.min_recall})",
            f"Inception Score:    {number(self.inception_score, '.3f')} ({gated})",
            f"FID extractor:      {self.extractor} ({self.extractor_feature_dim} features"
            + ("" if self.extractor_holdout_accuracy is None else
               f", held-out accuracy {self.extractor_holdout_accuracy:.3f}") + ")",
            f"Decision:           {self.verdict}"
            + ("" if self.blessed else f" [decided by {self.deciding_condition}]"),
        ]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> "EvaluationResult":
        values = json.loads(text)
        values["comparison"] = Comparison(**values["comparison"])
        values["gate"] = GateConfig(**values["gate"])
        values["checks"] = tuple(Check(**check) for check in values["checks"])
        values["compressed"] = {precision: CompressedScore(**scored)
                                for precision, scored in values.get("compressed", {}).items()}
        return cls(**values)

    def for_compressed(self, precision: str) -> "EvaluationResult":
        """The record a compressed copy is pushed with: its own FID, and the float32 one."""
        return dataclasses.replace(self, fid=self.compressed[precision].fid,
                                   float32_fid=self.fid)

    @staticmethod
    def comparable_fid(stored: dict[str, Any], comparison: Comparison) -> float | None:
        """The FID of a stored record (`to_dict`, perhaps of an older version) if it was
        measured as `comparison` says, else None."""
        if (stored.get("comparison") != dataclasses.asdict(comparison)
                or stored.get("fid") is None):
            return None
        return float(stored["fid"])


def finite_or_none(value: float | None) -> float | None:
    """A measurement as the record keeps it: None when it is missing or not finite."""
    return None if value is None or not math.isfinite(value) else float(value)


def read_result(evaluation_uri: str) -> EvaluationResult:
    """The record in an evaluation artifact, on any file system TensorFlow reads."""
    import tensorflow as tf  # here only: the record itself loads without TensorFlow

    with tf.io.gfile.GFile(os.path.join(evaluation_uri, METRICS_FILE)) as source:
        return EvaluationResult.from_json(source.read())
