"""Evaluation records as the FidEvaluator writes them, for tests of their readers."""
from components.evaluation.gate import Baseline, GateConfig, Measurements, decide
from components.evaluation.result import Comparison, EvaluationResult

NOTHING_SERVED = Baseline(None, None, "nothing is served yet")
COMPARISON = Comparison(extractor="pixels", real_images="0" * 64, num_samples=100, seed=0)


def recorded_result(**measurements) -> EvaluationResult:
    """A record as the evaluator writes it, for a collapsed generator by default."""
    measured = Measurements(**{**dict(fid=3.08, fid_refusal=None, fid_real_floor=0.078,
                                      precision=1.0, recall=0.0), **measurements})
    decision = decide(measured, GateConfig(), NOTHING_SERVED)
    return EvaluationResult(
        fid=measured.fid, fid_refusal=measured.fid_refusal,
        fid_real_floor=measured.fid_real_floor, fid_ratio=measured.fid_ratio, kid_mean=0.01,
        kid_std=0.001, kid_subsets=10, kid_subset_size=100, precision=measured.precision,
        recall=measured.recall, precision_recall_k=3, inception_score=None, num_generated=100,
        num_real_eval=100, num_real_floor=100, extractor="pixels", extractor_feature_dim=64,
        extractor_holdout_accuracy=None, comparison=COMPARISON, gate=GateConfig(),
        baseline_version=None, baseline_fid=None, baseline_source=NOTHING_SERVED.source,
        checks=decision.checks, deciding_condition=decision.deciding,
        blessed=decision.blessed, reason=decision.reason)
