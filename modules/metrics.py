"""FID and KID on feature activations (NumPy/SciPy; no TensorFlow).

FID follows the reference implementations (TTUR/pytorch-fid): the matrix square
root of S1·S2 via `scipy.linalg.sqrtm`, retried with a small diagonal offset
when it is not finite, and rejected when its imaginary part is not negligible.
KID is the unbiased MMD² with the cubic polynomial kernel, averaged over subsets.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy import linalg

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
        imaginary = np.max(np.abs(np.diagonal(root).imag))
        if not np.allclose(np.diagonal(root).imag, 0, atol=MAX_IMAGINARY_COMPONENT):
            raise ValueError(f"FID square root has an imaginary component of {imaginary}")
        root = root.real
    return float(difference.dot(difference) + np.trace(a.covariance) + np.trace(b.covariance)
                 - 2.0 * np.trace(root))


def fid(real_activations: np.ndarray, fake_activations: np.ndarray) -> float:
    return frechet_distance(FeatureStatistics.of(real_activations),
                            FeatureStatistics.of(fake_activations))


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
