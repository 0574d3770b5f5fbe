"""Small NumPy helpers shared by the op rules: fast reductions and broadcasting glue.

Summing a small matrix along an axis with ``np.sum`` costs several microseconds of Python
overhead; a BLAS dot product with a cached vector of ones costs well under one. Every
helper takes an optional ``out`` and allocates when it is ``None``.
"""

from __future__ import annotations

import numpy as np

_ONES: dict[tuple[int, str, float], np.ndarray] = {}


def filled(n: int, dtype, value: float = 1.0) -> np.ndarray:
    """A cached read-only vector of ``n`` copies of ``value`` (do not write into it)."""
    key = (n, np.dtype(dtype).char, value)
    v = _ONES.get(key)
    if v is None:
        if len(_ONES) > 4096:
            _ONES.clear()
        v = np.full(n, value, dtype=dtype)
        v.flags.writeable = False
        _ONES[key] = v
    return v


_ROWS: dict[int, np.ndarray] = {}


def rows(n: int) -> np.ndarray:
    """A cached ``np.arange(n)`` (for picking one entry per row: ``a[rows(n), labels]``)."""
    r = _ROWS.get(n)
    if r is None:
        if len(_ROWS) > 1024:
            _ROWS.clear()
        r = _ROWS[n] = np.arange(n)
        r.flags.writeable = False
    return r


def _dot(a, b, out):
    if out is None:
        return np.dot(a, b)
    if out.flags.c_contiguous:
        return np.dot(a, b, out=out)
    out[...] = np.dot(a, b)
    return out


def sum_leading(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Sum over every axis but the last: ``(B, ..., n) -> (n,)`` (bias gradients)."""
    if a.ndim == 1:
        if out is None:
            return np.asarray(a.sum())
        out[...] = a.sum()
        return out
    if a.ndim > 2:
        a = a.reshape(-1, a.shape[-1])
    if not a.flags.c_contiguous:
        return np.sum(a, axis=0, out=out)
    return _dot(filled(a.shape[0], a.dtype), a, out)


def sum_batch(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Sum over the batch axis: ``(B, *s) -> s`` (gradients of shared parameters)."""
    if a.ndim <= 2:
        return sum_leading(a, out)
    r = sum_leading(a.reshape(a.shape[0], -1), None if out is None else out.reshape(-1))
    return r.reshape(a.shape[1:]) if out is None else out


def sum_sample(a: np.ndarray, out: np.ndarray | None = None, scale: float = 1.0) -> np.ndarray:
    """``scale`` times the sum over each sample's elements: ``(B, *s) -> (B,)``."""
    if a.ndim != 2:
        a = a.reshape(a.shape[0], -1)
    if a.shape[1] == 1 and out is not None:
        return np.multiply(a[:, 0], scale, out=out)
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    return _dot(a, filled(a.shape[1], a.dtype, scale), out)


def per_sample(g: np.ndarray, ndim: int) -> np.ndarray:
    """View a per-sample scalar ``g`` of shape ``(B,)`` so it broadcasts over ``ndim`` axes."""
    return g.reshape(g.shape + (1,) * (ndim - 1)) if ndim > 1 else g


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` with ``np.dot``'s lower overhead for plain matrices."""
    if a.ndim == 2 and b.ndim == 2 and (out is None or out.flags.c_contiguous):
        return np.dot(a, b) if out is None else np.dot(a, b, out=out)
    return np.matmul(a, b, out=out)
