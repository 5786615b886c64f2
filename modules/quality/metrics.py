"""FID and KID on feature activations (NumPy/SciPy; no TensorFlow).

FID follows the reference implementations (TTUR/pytorch-fid): the matrix square
root of S1·S2 via `scipy.linalg.sqrtm`, retried with a small diagonal offset
when it is not finite. Where that root has a non-negligible imaginary part
(pytorch-fid gives up there), a rank-deficient covariance such as a collapsed
generator's, the trace is taken through the symmetric form as TF-GAN does:
Tr sqrt(S1^½ S2 S1^½), whose eigenvalues are real and non-negative.
KID is the unbiased MMD² with the cubic polynomial kernel, averaged over subsets.
The classifier score is the Inception Score with any classifier, as TF-GAN computes it.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy import linalg, special

# Feature extractors the evaluator can use (implemented in components/evaluation/extractors.py).
FID_EXTRACTORS = ("domain_classifier", "self_supervised", "inception", "saved_model")
# The extractor setting's default: chosen once the labels are known (`resolve_extractor`).
AUTO_EXTRACTOR = "auto"
FID_EXTRACTOR_CHOICES = (AUTO_EXTRACTOR,) + FID_EXTRACTORS
PATH_EXTRACTORS = ("inception", "saved_model")   # need fid_extractor_path
LABELED_EXTRACTOR = "domain_classifier"      # needs labels of at least two classes
UNLABELED_EXTRACTOR = "self_supervised"      # learns from the images alone
SQRTM_OFFSET = 1e-6
MAX_IMAGINARY_COMPONENT = 1e-3


@dataclasses.dataclass(frozen=True)
class FeatureStatistics:
    mean: np.ndarray
    covariance: np.ndarray
    count: int

    @classmethod
    def of(cls, activations: np.ndarray) -> "FeatureStatistics":
        activations = np.asarray(activations, np.float64)
        if activations.ndim != 2:
            raise ValueError(f"activations must be [N, D], got shape {activations.shape}")
        count, dim = activations.shape
        if count <= dim:
            raise ValueError(
                f"FID needs more samples than feature dimensions: {count} samples of "
                f"{dim}-d features give a singular covariance")
        return cls(activations.mean(axis=0), np.cov(activations, rowvar=False), count)


def frechet_distance(a: FeatureStatistics, b: FeatureStatistics) -> float:
    """||mu_a - mu_b||² + Tr(S_a + S_b - 2 sqrt(S_a S_b))."""
    difference = a.mean - b.mean
    root, _ = linalg.sqrtm(a.covariance.dot(b.covariance), disp=False)
    if not np.isfinite(root).all():
        offset = np.eye(a.covariance.shape[0]) * SQRTM_OFFSET
        root = linalg.sqrtm((a.covariance + offset).dot(b.covariance + offset))
    if np.iscomplexobj(root):
        if np.allclose(np.diagonal(root).imag, 0, atol=MAX_IMAGINARY_COMPONENT):
            trace_root = np.trace(root.real)
        else:
            trace_root = _symmetric_trace_root(a.covariance, b.covariance)
    else:
        trace_root = np.trace(root)
    return float(difference.dot(difference) + np.trace(a.covariance) + np.trace(b.covariance)
                 - 2.0 * trace_root)


def _symmetric_trace_root(first: np.ndarray, second: np.ndarray) -> float:
    """Tr sqrt(S1 S2) = Tr sqrt(S1^½ S2 S1^½) for covariances (positive semi-definite)."""
    values, vectors = np.linalg.eigh(first)
    root_first = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    inner = np.linalg.eigvalsh(root_first @ second @ root_first)
    return float(np.sum(np.sqrt(np.clip(inner, 0, None))))


def fid(real_activations: np.ndarray, fake_activations: np.ndarray) -> float:
    return frechet_distance(FeatureStatistics.of(real_activations),
                            FeatureStatistics.of(fake_activations))


def fid_sample_refusal(count: int, dim: int) -> str | None:
    """Why `count` samples of `dim`-d features cannot give an FID, or None if they can."""
    if count <= dim:
        return (f"FID needs more samples than the {dim} feature dimensions, but a set has "
                f"only {count}")
    return None


def fid_or_refusal(real_activations: np.ndarray, fake_activations: np.ndarray
                   ) -> tuple[float | None, str | None]:
    """(FID, None), or (None, the reason) when it cannot be computed, so callers record
    a refusal instead of failing."""
    refusal = fid_sample_refusal(min(len(real_activations), len(fake_activations)),
                                 np.shape(real_activations)[1])
    if refusal:
        return None, refusal
    try:
        value = fid(real_activations, fake_activations)
    except ValueError as error:  # the covariance product has no real square root
        return None, str(error)
    if not np.isfinite(value):
        return None, f"FID is not finite ({value})"
    return value, None


def count_classes(label_ids: np.ndarray | None) -> int:
    """Distinct labels; negative ids mark unlabeled images."""
    if label_ids is None:
        return 0
    label_ids = np.asarray(label_ids)
    return len(np.unique(label_ids[label_ids >= 0]))


def resolve_extractor(name: str, num_classes: int) -> str:
    """The extractor `name` stands for: itself, or for `auto` the domain classifier when
    the training images carry labels of at least two classes, else the self-supervised
    one."""
    if name != AUTO_EXTRACTOR:
        return name
    return LABELED_EXTRACTOR if num_classes >= 2 else UNLABELED_EXTRACTOR


def classifier_score(logits: np.ndarray) -> float:
    """exp(E_x[KL(p(y|x) || p(y))]) of class logits [N, K], in float64, as TF-GAN's
    `classifier_score_from_logits` computes it (tensorflow_gan/python/eval/
    classifier_metrics.py): p(y) is the mean of the softmax over the samples, and
    log p(y|x) is the log-softmax of the logits. 1 for one class everywhere, at most K."""
    logits = np.asarray(logits, np.float64)
    if logits.ndim != 2:
        raise ValueError(f"logits must be [N, K], got shape {logits.shape}")
    log_p = logits - special.logsumexp(logits, axis=1, keepdims=True)
    p = np.exp(log_p)
    q = p.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (log_p - np.log(q)), 0.0)  # 0 log 0 = 0
    kl = terms.sum(axis=1)
    return float(np.exp(kl.mean()))


@dataclasses.dataclass(frozen=True)
class KernelInceptionDistance:
    mean: float
    std: float
    subsets: int
    subset_size: int


def polynomial_mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² with k(a, b) = (aᵀb / d + 1)³."""
    dim = x.shape[1]
    k_xx = (x @ x.T / dim + 1.0) ** 3
    k_yy = (y @ y.T / dim + 1.0) ** 3
    k_xy = (x @ y.T / dim + 1.0) ** 3
    m, n = len(x), len(y)
    return float((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
                 + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
                 - 2.0 * k_xy.mean())


def kid(real_activations: np.ndarray, fake_activations: np.ndarray, subsets: int = 100,
        max_subset_size: int = 1000, seed: int = 0) -> KernelInceptionDistance:
    """KID averaged over random subsets (as clean-fid and torch-fidelity compute it)."""
    real = np.asarray(real_activations, np.float64)
    fake = np.asarray(fake_activations, np.float64)
    subset_size = min(len(real), len(fake), max_subset_size)
    if subset_size < 2:
        raise ValueError("KID needs at least two real and two generated samples")
    rng = np.random.default_rng(seed)
    values = [polynomial_mmd2_unbiased(real[rng.choice(len(real), subset_size, replace=False)],
                                       fake[rng.choice(len(fake), subset_size, replace=False)])
              for _ in range(subsets)]
    return KernelInceptionDistance(float(np.mean(values)), float(np.std(values)), subsets,
                                   subset_size)


@dataclasses.dataclass(frozen=True)
class PrecisionRecall:
    precision: float
    recall: float
    k: int


def _kth_neighbour_radii(features: np.ndarray, k: int, batch: int) -> np.ndarray:
    """Distance from each point to its k-th nearest other point of the same set."""
    radii = np.empty(len(features))
    for start in range(0, len(features), batch):
        distances = _pairwise_distances(features[start:start + batch], features)
        # Column 0 of the sorted row is the point itself (distance 0).
        radii[start:start + batch] = np.partition(distances, k, axis=1)[:, k]
    return radii


def _pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = (np.sum(a ** 2, axis=1)[:, None] + np.sum(b ** 2, axis=1)[None, :]
               - 2.0 * a @ b.T)
    return np.sqrt(np.maximum(squared, 0.0))


def _coverage(manifold: np.ndarray, radii: np.ndarray, probes: np.ndarray, batch: int) -> float:
    """Fraction of probes inside at least one manifold point's k-NN ball."""
    inside = np.zeros(len(probes), bool)
    for start in range(0, len(probes), batch):
        distances = _pairwise_distances(probes[start:start + batch], manifold)
        inside[start:start + batch] = np.any(distances <= radii[None, :], axis=1)
    return float(inside.mean())


def precision_recall(real_features: np.ndarray, fake_features: np.ndarray, k: int = 3,
                     batch: int = 1000) -> PrecisionRecall:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds.

    Precision: how many generated samples fall on the real manifold (quality).
    Recall: how many real samples fall on the generated manifold (coverage; a
    collapsed generator has low recall even when its FID looks fine).
    """
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples per set")
    precision = _coverage(real, _kth_neighbour_radii(real, k, batch), fake, batch)
    recall = _coverage(fake, _kth_neighbour_radii(fake, k, batch), real, batch)
    return PrecisionRecall(precision, recall, k)
