"""The evaluation's evidence as one self-contained HTML page (images inlined).

A person deciding whether to trust a blessing wants to see the samples next to
real images, the numbers next to the served model's, and whether samples are
near-copies of training images (memorization), which FID does not reveal.
"""
from __future__ import annotations

import base64
import html
import math

import numpy as np

from components.evaluation.result import EvaluationResult
from modules.images import png_bytes, upscale_nearest, viewable_grid

NEIGHBOUR_SAMPLES = 8
NEIGHBOURS = 3


def nearest_training_neighbours(samples: np.ndarray, train: np.ndarray, k: int = NEIGHBOURS
                                ) -> tuple[np.ndarray, np.ndarray]:
    """Indices and RMS pixel distances (0..255 scale) of each sample's k nearest training images."""
    a = samples.reshape(len(samples), -1).astype(np.float64)
    b = train.reshape(len(train), -1).astype(np.float64)
    squared = (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2 * a @ b.T
    distances = np.sqrt(np.maximum(squared, 0) / a.shape[1])
    indices = np.argsort(distances, axis=1)[:, :k]
    return indices, np.take_along_axis(distances, indices, axis=1)


def _img(pixels: np.ndarray, size: int) -> str:
    data = base64.b64encode(png_bytes(pixels)).decode()
    return f'<img src="data:image/png;base64,{data}" width="{size}" alt="">'


def _number(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "not finite" if not math.isfinite(value) else f"{value:.5g}"
    return html.escape(str(value))


METRIC_ROWS = (
    ("fid_ratio", "FID in floor units (FID / real-vs-real floor)"),
    ("fid", "FID (lower is better)"),
    ("fid_real_floor", "real-vs-real FID floor (same extractor, same sample counts)"),
    ("fid_refusal", "why FID is missing"),
    ("kid_mean", "KID"),
    ("kid_std", "KID standard deviation"),
    ("precision", "precision (sample quality)"),
    ("recall", "recall (coverage; low means mode collapse)"),
    ("inception_score", "Inception Score (classifier score; 1 to the number of classes)"),
    ("baseline_fid", "FID of the served model"),
    ("baseline_version", "served version"),
    ("baseline_source", "where the served FID comes from"),
    ("extractor", "feature extractor"),
    ("extractor_feature_dim", "feature dimensions"),
    ("num_generated", "generated samples"),
    ("num_real_eval", "real eval images"),
    ("num_real_floor", "training images in the floor"),
)


def render(result: EvaluationResult, real: np.ndarray, generated: np.ndarray,
           train: np.ndarray) -> str:
    """The report page; `real`, `generated` and `train` are uint8 [N, H, W, C]."""
    cell = max(48, 4 * generated.shape[1])
    grid_width = 8 * cell
    verdict = "BLESSED" if result.blessed else "NOT BLESSED"
    rows = "".join(f"<tr><th>{html.escape(label)}</th>"
                   f"<td>{_number(getattr(result, key))}</td></tr>"
                   for key, label in METRIC_ROWS)
    checks = "".join(
        f"<tr><th>{html.escape(check.condition)}</th>"
        f"<td>{'passed' if check.passed else '<b>FAILED</b>'}</td>"
        f"<td>{html.escape(check.description)}</td></tr>" for check in result.checks)
    samples = generated[:NEIGHBOUR_SAMPLES]
    indices, distances = nearest_training_neighbours(samples, train)
    factor = max(1, cell // generated.shape[1])
    neighbour_rows = "".join(
        "<tr><td>" + _img(upscale_nearest(sample, factor), cell) + "</td>"
        + "".join(f"<td>{_img(upscale_nearest(train[j], factor), cell)}<br>{d:.1f}</td>"
                  for j, d in zip(row_indices, row_distances)) + "</tr>"
        for sample, row_indices, row_distances in zip(samples, indices, distances))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Generator evaluation: {verdict}</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:4px 10px;text-align:left}}
img{{image-rendering:pixelated}} .grids{{display:flex;gap:2em}}</style></head>
<body>
<h1>{verdict}</h1>
<p>Decided by <code>{html.escape(result.deciding_condition)}</code>:
{html.escape(result.reason)}</p>
<h2>The gate</h2>
<table>{checks}</table>
<h2>Measurements</h2>
<table>{rows}</table>
<div class="grids">
<figure>{_img(viewable_grid(real), grid_width)}<figcaption>real (eval split)</figcaption></figure>
<figure>{_img(viewable_grid(generated), grid_width)}<figcaption>generated (fixed seed)</figcaption></figure>
</div>
<h2>Nearest training images</h2>
<p>Each generated sample, then its {NEIGHBOURS} nearest training images by pixel distance
(RMS, 0–255 scale). Distances near 0 mean the generator copies its training data.</p>
<table><tr><th>generated</th>{"".join(f"<th>neighbour {i + 1}</th>" for i in range(NEIGHBOURS))}</tr>
{neighbour_rows}</table>
</body></html>
"""
