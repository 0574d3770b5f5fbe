"""Screen-sized, JSON-able summaries of tensors (node values, gradients, parameters).

    summarize(a, batched=True) -> {
      "shape": per-sample shape (batched) or full shape,  "batch": n (batched only),
      "mean", "std", "min", "max", "norm" (L2),            over the finite entries
      "nonfinite": count of NaN/±inf entries,
      "hist": {"edges": [17 floats], "counts": [16 ints]},
      "data": nested list, when one sample (batched) / the array has ≤ 64 entries,
      "matrix": nested list, for a 2-D (non-batched) array up to 64×64 (heatmaps),
    }

Numbers are rounded to 5 significant digits; non-finite entries of data/matrix are null.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

BINS = 16
MAX_DATA = 64
MAX_MATRIX = 64


def _r(v: float) -> float | None:
    return float(f"{v:.5g}") if math.isfinite(v) else None


def _nested(a: np.ndarray) -> Any:
    if a.ndim == 0:
        return _r(float(a))
    flat = [_r(v) for v in a.astype(np.float64).ravel().tolist()]
    for n in reversed(a.shape[1:]):
        flat = [flat[i : i + n] for i in range(0, len(flat), n)]
    return flat


def summarize(
    a: np.ndarray,
    *,
    batched: bool = False,
    bins: int = BINS,
    max_data: int = MAX_DATA,
    max_matrix: int = MAX_MATRIX,
) -> dict[str, Any]:
    """Summary statistics, a histogram and (when small) the values of `a`.

    With `batched=True` the leading axis is the batch: `shape` excludes it and `data` is the
    first sample's values.
    """
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        a = a.astype(np.float64)
    out: dict[str, Any] = {"shape": list(a.shape[1:] if batched else a.shape)}
    if batched:
        out["batch"] = int(a.shape[0]) if a.ndim else 1
    x = a.astype(np.float64, copy=False).ravel()
    finite = np.isfinite(x)
    nonfinite = int(x.size - np.count_nonzero(finite))
    if nonfinite:
        x = x[finite]
    out["nonfinite"] = nonfinite
    if x.size:
        lo, hi = float(x.min()), float(x.max())
        out.update(
            mean=_r(float(x.mean())),
            std=_r(float(x.std())),
            min=_r(lo),
            max=_r(hi),
            norm=_r(float(np.sqrt(np.dot(x, x)))),
        )
        if hi - lo > 0:
            counts, edges = np.histogram(x, bins=bins, range=(lo, hi))
        else:
            counts, edges = np.array([x.size]), np.array([lo - 0.5, lo + 0.5])
        out["hist"] = {"edges": [_r(float(e)) for e in edges], "counts": counts.tolist()}
    else:
        out.update(mean=None, std=None, min=None, max=None, norm=None)
        out["hist"] = {"edges": [], "counts": []}
    sample = a[0] if batched and a.ndim and a.shape[0] else (None if batched else a)
    if sample is not None and sample.size <= max_data:
        out["data"] = _nested(sample)
    if not batched and a.ndim == 2 and a.shape[0] <= max_matrix and a.shape[1] <= max_matrix:
        out["matrix"] = out.get("data") if a.size <= max_data else _nested(a)
    return out
