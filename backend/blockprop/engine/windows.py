"""Sliding windows over the spatial axes of a batch (convolution and pooling kernels).

Arrays are laid out like PyTorch's: ``(batch, channels, *spatial)`` with one or two spatial
axes. A window view is made with stride tricks (no copy); the pools reduce over it. Their
way back adds each kernel offset's slice in turn: a loop over the k·k offsets of the
kernel, never over output positions. (Convolution has its own channels-last kernels.)
"""

from __future__ import annotations

import itertools

import numpy as np


def out_size(n: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length of a window sweep along an axis of length ``n`` (PyTorch's formula)."""
    return (n + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def padded(x: np.ndarray, padding: int, buf: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """``x`` with ``padding`` cells of ``fill`` around each spatial axis, written into ``buf``
    (shaped like the padded array); ``x`` itself when there is no padding."""
    if padding == 0:
        return x
    nd = x.ndim - 2
    inner = (slice(None), slice(None)) + (slice(padding, -padding),) * nd
    # only the interior is ever written: the border keeps its fill once it has it
    if buf.reshape(-1)[0] != fill:
        buf.fill(fill)
    buf[inner] = x
    return buf


def offsets(kernel: int, nd: int):
    """Every kernel offset ``(i,)`` or ``(i, j)``."""
    return itertools.product(range(kernel), repeat=nd)


def offset_slice(offset: tuple, stride: int, dilation: int, out: tuple) -> tuple:
    """The index of the input cells that kernel ``offset`` reads, one per output position."""
    return (slice(None), slice(None)) + tuple(
        slice(i * dilation, i * dilation + stride * (o - 1) + 1, stride)
        for i, o in zip(offset, out, strict=True)
    )


def unpad(xp: np.ndarray, padding: int) -> np.ndarray:
    """The interior of a padded array (a view)."""
    if padding == 0:
        return xp
    nd = xp.ndim - 2
    return xp[(slice(None), slice(None)) + (slice(padding, -padding),) * nd]
