"""FID and KID against plain NumPy/SciPy computations on known inputs."""
import itertools

import numpy as np
import pytest
from scipy import linalg

from modules.quality import metrics


def reference_fid(x, y):
    """FID through the symmetric form Tr sqrt(S1^½ S2 S1^½), with eigendecompositions."""
    mu_x, mu_y = x.mean(0), y.mean(0)
    s_x, s_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    w, v = np.linalg.eigh(s_x)
    root_x = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root_x @ s_y @ root_x)
    return float(np.sum((mu_x - mu_y) ** 2) + np.trace(s_x) + np.trace(s_y)
                 - 2 * np.sum(np.sqrt(np.clip(inner, 0, None))))


def reference_mmd2(x, y):
    """Unbiased MMD² with the cubic polynomial kernel, written as explicit loops."""
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_fid_matches_reference_on_random_features():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 16))
    y = rng.standard_normal((400, 16)) @ rng.standard_normal((16, 16)) * 0.5 + 0.3
    assert metrics.fid(x, y) == pytest.approx(reference_fid(x, y), rel=1e-6)


def test_fid_of_diagonal_gaussians_is_closed_form():
    mean_a, mean_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var_a, var_b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    a = metrics.FeatureStatistics(mean_a, np.diag(var_a), 100)
    b = metrics.FeatureStatistics(mean_b, np.diag(var_b), 100)
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_fid_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(1).standard_normal((200, 8))
    assert metrics.fid(x, x) == pytest.approx(0.0, abs=1e-6)


def test_fid_refuses_fewer_samples_than_dimensions():
    x = np.random.default_rng(2).standard_normal((10, 10))
    with pytest.raises(ValueError, match="more samples than feature dimensions"):
        metrics.fid(x, x)


def test_kid_matches_explicit_loops():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((12, 5)), rng.standard_normal((9, 5)) + 0.5
    assert metrics.polynomial_mmd2_unbiased(x, y) == pytest.approx(reference_mmd2(x, y), rel=1e-9)


def test_kid_averages_subsets_and_reports_spread():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((300, 6)), rng.standard_normal((250, 6)) + 1.0
    result = metrics.kid(x, y, subsets=20, max_subset_size=100, seed=7)
    assert result.subset_size == 100 and result.subsets == 20
    assert result.mean > 0.1 and result.std > 0
    same = metrics.kid(x, x + 0.0, subsets=20, max_subset_size=100, seed=7)
    assert abs(same.mean) < result.mean / 10
