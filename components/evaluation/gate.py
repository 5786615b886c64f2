"""The quality gate: the conditions a generator must meet to be blessed, and the evaluation
stage's settings.

FID has no meaning across extractors and data sets (a pixel-pooling extractor on photo
crops gives a real-vs-real floor of 0.08, a digit classifier 0.4, Inception tens), so
the gate measures FID in units of the floor measured with the same extractor and the
same sample counts: "FID is 2x the floor" means the same thing on any images. FID alone
misses mode collapse (one sharp image repeated can score well on a coarse extractor),
so precision (samples on the real manifold) and recall (real images covered by samples)
have minimums too. Free of TensorFlow, so `pipeline.configs` can validate the settings
cheaply.
"""
from __future__ import annotations

import dataclasses
import math

from modules.features import COMPRESSED_PRECISIONS
from modules.quality.metrics import (AUTO_EXTRACTOR, FID_EXTRACTOR_CHOICES, LABELED_EXTRACTOR,
                                     PATH_EXTRACTORS, UNLABELED_EXTRACTOR)
from modules.settings import Settings, named, setting


@dataclasses.dataclass(frozen=True)
class GateConfig(Settings):
    """What a generator must reach to be blessed. Defaults: see docs/evaluation.md,
    "The quality gate" (measured with `python -m benchmarks.gate_calibration`)."""

    max_fid_ratio: float = setting(
        3.0, alias="--max-fid-ratio",
        help="bless only if FID <= this x the real-vs-real FID floor (same extractor, same "
             "sample counts)")
    min_recall: float = setting(
        0.2, alias="--min-recall",
        help="bless only if recall (real images covered by samples; low means mode "
             "collapse) reaches this")
    min_precision: float = setting(
        0.3, alias="--min-precision",
        help="bless only if precision (samples on the real-image manifold) reaches this")
    fid_threshold: float | None = setting(
        None, alias="--fid-threshold",
        help="also require FID <= this absolute value (none: off)")
    min_inception_score: float | None = setting(
        None, alias="--min-inception-score",
        help="also require this classifier score (labeled data; none: off)")
    baseline_tolerance: float = setting(
        0.0, alias="--fid-tolerance",
        help="bless only if FID <= served FID * (1 + tolerance)")

    def __post_init__(self):
        if not (math.isfinite(self.max_fid_ratio) and self.max_fid_ratio >= 1):
            raise ValueError(f"{named(GateConfig, 'max_fid_ratio')} must be a number >= 1 "
                             f"(the floor itself is 1.0), got {self.max_fid_ratio}")
        for name in ("min_recall", "min_precision"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{named(GateConfig, name)} must be between 0 and 1, "
                                 f"got {value}")
        if self.fid_threshold is not None and not (math.isfinite(self.fid_threshold)
                                                   and self.fid_threshold > 0):
            raise ValueError(f"{named(GateConfig, 'fid_threshold')} must be a positive number, "
                             f"got {self.fid_threshold}")
        if self.min_inception_score is not None and not (
                math.isfinite(self.min_inception_score) and self.min_inception_score >= 1):
            raise ValueError(f"{named(GateConfig, 'min_inception_score')} must be >= 1 (the "
                             f"score of a single class), got {self.min_inception_score}")
        if not (math.isfinite(self.baseline_tolerance) and self.baseline_tolerance >= 0):
            raise ValueError(f"{named(GateConfig, 'baseline_tolerance')} must be >= 0, "
                             f"got {self.baseline_tolerance}")



@dataclasses.dataclass(frozen=True)
class EvaluationSettings(Settings):
    """The evaluation stage's settings: how the generator is scored, and the gate."""

    gate: GateConfig = GateConfig()
    fid_num_samples: int = setting(
        1000, alias="--fid-samples",
        help="generated images scored (and as many real ones for the floor)")
    kid_subsets: int = setting(100, help="random subsets KID is averaged over")
    precision_recall_k: int = setting(
        3, help="neighbours that make each image's manifold ball for precision and recall")
    extractor: str = setting(
        AUTO_EXTRACTOR, alias="--fid-extractor", choices=FID_EXTRACTOR_CHOICES,
        help=f"the features FID is computed in; {AUTO_EXTRACTOR}: {LABELED_EXTRACTOR} when "
             f"the data has labels of at least two classes, else {UNLABELED_EXTRACTOR}")
    extractor_path: str = setting(
        "", alias="--fid-extractor-path",
        help="inception: path or URL of classify_image_graph_def.pb or "
             "inception-2015-12-05.tgz; saved_model: the model's path")
    compressed_precisions: tuple[str, ...] = setting(
        (), alias="--compressed-precisions", separator=",",
        help="also score reduced-precision copies of the generator (float16,int8) and push "
             "each to SERVING_DIR/<precision>/ when its FID is within "
             "--compressed-fid-tolerance of the float32 one ('' for none)")

    def __post_init__(self):
        if self.fid_num_samples < 2:
            raise ValueError(f"fid_num_samples must be at least 2, got {self.fid_num_samples}")
        for name in ("kid_subsets", "precision_recall_k"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.extractor not in FID_EXTRACTOR_CHOICES:
            raise ValueError(f"{named(EvaluationSettings, 'extractor')} must be one "
                             f"of {FID_EXTRACTOR_CHOICES}, got {self.extractor!r}")
        if self.extractor in PATH_EXTRACTORS and not self.extractor_path:
            raise ValueError(f"the {self.extractor} FID extractor needs "
                             f"{named(EvaluationSettings, 'extractor_path')}")
        unknown = set(self.compressed_precisions) - set(COMPRESSED_PRECISIONS)
        if unknown:
            raise ValueError(
                f"{named(EvaluationSettings, 'compressed_precisions')} must be among "
                f"{COMPRESSED_PRECISIONS}, got the unknown compressed precision(s) "
                f"{sorted(unknown)}")


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """One evaluation: the stage's settings, the Trainer's seed (the same noise, and the
    same floor sample, as the served generator was scored with) and the folders."""

    settings: EvaluationSettings = EvaluationSettings()
    seed: int = 0
    cache_dir: str = ""               # real features and classifiers; "" disables caching
    serving_dir: str = ""             # where the served generator (the baseline) lives


@dataclasses.dataclass(frozen=True)
class Baseline:
    """The generator being served now, measured as the candidate is (or nothing)."""

    version: int | None
    fid: float | None
    source: str


@dataclasses.dataclass(frozen=True)
class Measurements:
    """What the gate looks at; None where a metric could not be computed."""

    fid: float | None
    fid_refusal: str | None
    fid_real_floor: float | None
    precision: float | None
    recall: float | None
    inception_score: float | None = None

    @property
    def fid_ratio(self) -> float | None:
        """FID in floor units."""
        if self.fid is None or not self.fid_real_floor or self.fid_real_floor <= 0:
            return None
        return self.fid / self.fid_real_floor


@dataclasses.dataclass(frozen=True)
class Check:
    """One condition of the gate: its name (the setting that sets it), and the outcome."""

    condition: str
    passed: bool
    description: str


@dataclasses.dataclass(frozen=True)
class Decision:
    blessed: bool
    deciding: str          # the condition that refused, or "all" when every one passed
    reason: str
    checks: tuple[Check, ...]


def _limit(value: float | None, name: str, limit: float, upper: bool, what: str,
           missing: str) -> Check:
    if value is None:
        return Check(name, False, f"{what} could not be computed: {missing}")
    passed = value <= limit if upper else value >= limit
    comparison = ("above", "within") if upper else ("below", "at or above")
    return Check(name, passed, f"{what} {value:.3f} is {comparison[passed]} the "
                               f"{'limit' if upper else 'minimum'} {limit}")


def checks(measured: Measurements, gate: GateConfig, baseline: Baseline) -> list[Check]:
    """Every configured condition, in the order they are reported."""
    ratio = measured.fid_ratio
    if ratio is None:
        why = measured.fid_refusal or "the real-vs-real floor is not available"
        result = [Check("max_fid_ratio", False, f"FID could not be computed in floor units: "
                                                f"{why}")]
    else:
        result = [Check("max_fid_ratio", ratio <= gate.max_fid_ratio,
                        f"FID is {ratio:.1f}x the real-vs-real floor "
                        f"(limit {gate.max_fid_ratio:.1f}x)")]
    result.append(_limit(measured.recall, "min_recall", gate.min_recall, False, "recall",
                         "too few samples"))
    result.append(_limit(measured.precision, "min_precision", gate.min_precision, False,
                         "precision", "too few samples"))
    if gate.fid_threshold is not None:
        result.append(_limit(measured.fid, "fid_threshold", gate.fid_threshold, True, "FID",
                             measured.fid_refusal or "not finite"))
    if gate.min_inception_score is not None:
        result.append(_limit(measured.inception_score, "min_inception_score",
                             gate.min_inception_score, False, "Inception Score",
                             "the extractor has no class probabilities"))
    result.append(_baseline_check(measured.fid, baseline, gate.baseline_tolerance))
    return result


def _baseline_check(fid: float | None, baseline: Baseline, tolerance: float) -> Check:
    if baseline.fid is None:
        return Check("baseline", True, baseline.source)
    if not math.isfinite(baseline.fid):
        return Check("baseline", True, f"the served version {baseline.version} has no "
                                       f"finite FID ({baseline.source})")
    limit = baseline.fid * (1.0 + tolerance)
    if fid is None:
        return Check("baseline", False, f"no FID to compare with the served version "
                                        f"{baseline.version}'s {baseline.fid:.4f}")
    worse = fid > limit
    return Check("baseline", not worse,
                 f"FID {fid:.4f} is {'worse' if worse else 'not worse'} than the served "
                 f"version {baseline.version}'s {baseline.fid:.4f} (limit {limit:.4f} with "
                 f"tolerance {tolerance}; {baseline.source})")


def decide(measured: Measurements, gate: GateConfig, baseline: Baseline) -> Decision:
    """Blesses only when every condition holds; the first failing one decides, and the
    reason lists every failing one."""
    outcome = checks(measured, gate, baseline)
    failed = [check for check in outcome if not check.passed]
    if failed:
        return Decision(False, failed[0].condition,
                        "; ".join(check.description for check in failed), tuple(outcome))
    return Decision(True, "all", "; ".join(check.description for check in outcome),
                    tuple(outcome))
