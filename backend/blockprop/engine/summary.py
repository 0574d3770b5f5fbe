"""Screen-sized, JSON-able summaries of tensors (node values, gradients, parameters).

    summarize(a, batched=True) -> {
      "shape": per-sample shape (batched) or full shape,  "batch": n (batched only),
      "mean", "std", "min", "max", "norm" (L2),            over the finite entries
      "nonfinite": count of NaN/±inf entries,
      "hist": {"edges": [17 floats], "counts": [16 ints]},
      "data": nested list, when one sample (batched) / the array has ≤ 64 entries,
      "matrix": nested list, for a 2-D (non-batched) array up to 64×64 (heatmaps),
      "maps": [C][h][w] colour levels -99..99, for a batched image-like value (`channel_maps`),
    }

Statistics are rounded to 5 significant digits; `data` and `matrix` to 5 significant
digits of their largest entry. Non-finite entries of data/matrix are null. A summary costs
a few passes over the array (tens of microseconds for small ones).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

BINS = 16
MAX_DATA = 64
MAX_MATRIX = 64
# Feature maps of one sample shaped [C, H, W] (channels first, as conv2d's). A node's view is
# 120×28 CSS pixels: past 32 channels a map would be a few pixels, noise. H·W ≤ 1024 (32×32)
# bounds the pass over the sample to 32k entries (a few µs). A map is block-averaged to at most
# 16×16, or 8×8 beyond 8 channels, so a summary carries at most MAX_MAP_ENTRIES numbers.
# They are colour levels, not values: v / max|v| over the layer's maps, times MAP_LEVELS,
# rounded (one scale, so channels compare; the view shows no more). Two or three characters
# each, not eight: digits_conv's snapshot is 19 kB with maps rather than 31 kB (8.8 kB
# without), and a class of followers each receives it 10 times a second.
MAX_MAP_CHANNELS = 32
MAX_MAP_PIXELS = 1024
MAX_MAP_ENTRIES = 2048
MAP_SIDE = 16
MAP_LEVELS = 99


def _r(v: float) -> float | None:
    return float(f"{v:.5g}") if math.isfinite(v) else None


def _nested(a: np.ndarray) -> Any:
    """`a` as nested lists, rounded to 5 significant digits of its largest entry."""
    a = np.asarray(a, dtype=np.float64)
    finite = np.isfinite(a)
    all_finite = bool(finite.all())
    big = float(np.abs(a[finite]).max()) if a.size and finite.any() else 0.0
    decimals = 4 - math.floor(math.log10(big)) if big > 0 else 0
    r = np.round(a, decimals) if decimals > 0 else a
    if all_finite:
        return r.tolist()
    return np.where(finite, r, None).tolist()


def is_image_like(shape: tuple[int, ...]) -> bool:
    """A per-sample shape drawn as channel maps: [C, H, W] within the limits above."""
    return (
        len(shape) == 3
        and 1 <= shape[0] <= MAX_MAP_CHANNELS
        and shape[1] >= 1
        and shape[2] >= 1
        and shape[1] * shape[2] <= MAX_MAP_PIXELS
    )


def map_side(channels: int) -> int:
    """The largest side a channel's map keeps: 16, or 8 when 16×16 maps would exceed the
    entry budget."""
    side = MAP_SIDE
    while side > 1 and channels * side * side > MAX_MAP_ENTRIES:
        side //= 2
    return side


def block_mean(a: np.ndarray, side: int) -> np.ndarray:
    """[C, H, W] averaged over f×f blocks, f = ⌈H/side⌉ (and ⌈W/side⌉ along W), so each map is
    at most side×side; the last H mod f rows (W mod f columns) are dropped, as pooling does.
    A block with a NaN or an infinity averages to a non-finite value."""
    c, h, w = a.shape
    fh, fw = -(-h // side), -(-w // side)
    if fh == 1 and fw == 1:
        return a
    oh, ow = h // fh, w // fw
    blocks = a[:, : oh * fh, : ow * fw].reshape(c, oh, fh, ow, fw)
    return blocks.mean(axis=(2, 4), dtype=np.float64)


def channel_maps(sample: np.ndarray) -> Any:
    """One sample's [C, H, W] feature maps, block-averaged to at most `map_side(C)` per side,
    as colour levels (see `levels`); non-finite → null."""
    return levels(block_mean(sample, map_side(sample.shape[0])))


def levels(a: np.ndarray) -> Any:
    """`a` as integers -MAP_LEVELS..MAP_LEVELS, v / max|v| · MAP_LEVELS rounded (all zeros
    when `a` is); non-finite entries → null."""
    a = np.asarray(a, dtype=np.float64)
    finite = np.isfinite(a)
    clean = np.where(finite, a, 0.0)
    big = float(np.abs(clean).max()) if a.size else 0.0
    q = np.rint(clean * (MAP_LEVELS / big)) if big > 0 else clean
    q = q.astype(np.int64)
    if finite.all():
        return q.tolist()
    return np.where(finite, q, None).tolist()


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
    out: dict[str, Any] = {"shape": list(a.shape[1:] if batched else a.shape)}
    if batched:
        out["batch"] = int(a.shape[0]) if a.ndim else 1
    x = a.reshape(-1)
    if x.dtype != np.float64:
        x = x.astype(np.float64)
    n = x.size
    total = float(np.add.reduce(x)) if n else 0.0
    nonfinite = 0
    if not math.isfinite(total):  # a NaN or an infinity (or an overflowing sum): slow path
        finite = np.isfinite(x)
        nonfinite = int(n - np.count_nonzero(finite))
        if nonfinite:
            x = x[finite]
            n = x.size
        total = float(np.add.reduce(x)) if n else 0.0
    out["nonfinite"] = nonfinite
    if n:
        lo, hi = float(x.min()), float(x.max())
        mean = total / n
        sq = float(np.dot(x, x))
        out.update(
            mean=_r(mean),
            std=_r(math.sqrt(max(sq / n - mean * mean, 0.0))),
            min=_r(lo),
            max=_r(hi),
            norm=_r(math.sqrt(sq)),
        )
        if hi > lo:
            idx = ((x - lo) * (bins / (hi - lo))).astype(np.intp)
            np.minimum(idx, bins - 1, out=idx)
            counts = np.bincount(idx, minlength=bins)
            edges = [_r(lo + (hi - lo) * i / bins) for i in range(bins + 1)]
        else:
            counts, edges = np.array([n]), [_r(lo - 0.5), _r(lo + 0.5)]
        out["hist"] = {"edges": edges, "counts": counts.tolist()}
    else:
        out.update(mean=None, std=None, min=None, max=None, norm=None)
        out["hist"] = {"edges": [], "counts": []}
    sample = a[0] if batched and a.ndim and a.shape[0] else (None if batched else a)
    if sample is not None and sample.size <= max_data:
        out["data"] = _nested(sample)
    if sample is not None and batched and is_image_like(sample.shape):
        out["maps"] = channel_maps(sample)
    if not batched and a.ndim == 2 and a.shape[0] <= max_matrix and a.shape[1] <= max_matrix:
        out["matrix"] = out["data"] if "data" in out else _nested(a)
    return out
