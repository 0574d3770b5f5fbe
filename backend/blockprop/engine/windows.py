"""Sliding windows over the spatial axes of a batch (convolution and pooling kernels).

Arrays are laid out like PyTorch's: ``(batch, channels, *spatial)`` with one or two spatial
axes. A window view is made with stride tricks (no copy); the pools reduce over it. Their
way back adds each kernel offset's slice in turn: a loop over the kh·kw offsets of the
kernel, never over output positions. (Convolution has its own channels-last kernels.)

Kernel size, stride, padding and dilation are per-axis tuples here (``(2, 3)`` for a 2×3
kernel); :func:`per_axis` turns an op's param (``3`` or ``[2, 3]``) into one.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np


def per_axis(value: int | Sequence[int], nd: int) -> tuple[int, ...]:
    """An ``ints`` param as one entry per spatial axis: ``3`` -> ``(3, 3)``, ``[2, 3]`` kept."""
    return (int(value),) * nd if isinstance(value, (int, np.integer)) else tuple(value)


def out_size(n: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length of a window sweep along an axis of length ``n`` (PyTorch's formula)."""
    return (n + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def out_sizes(spatial: Sequence[int], kernel: tuple, stride: tuple, padding: tuple) -> tuple:
    """:func:`out_size` along each spatial axis (dilation 1, as the pools have)."""
    return tuple(map(out_size, spatial, kernel, stride, padding))


def _interior(padding: tuple) -> tuple:
    return (slice(None), slice(None)) + tuple(slice(p, -p if p else None) for p in padding)


def padded(x: np.ndarray, padding: tuple, buf: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """``x`` with ``padding[i]`` cells of ``fill`` on each side of spatial axis ``i``, written
    into ``buf`` (shaped like the padded array); ``x`` itself when there is no padding."""
    if not any(padding):
        return x
    # only the interior is ever written: the border keeps its fill once it has it (the first
    # cell is border, since some axis is padded)
    if buf.reshape(-1)[0] != fill:
        buf.fill(fill)
    buf[_interior(padding)] = x
    return buf


def offsets(kernel: tuple):
    """Every kernel offset ``(i,)`` or ``(i, j)``, for a kernel of ``kernel[a]`` taps on axis a."""
    return itertools.product(*map(range, kernel))


def offset_slice(offset: tuple, stride: tuple, dilation: tuple, out: tuple) -> tuple:
    """The index of the input cells that kernel ``offset`` reads, one per output position."""
    return (slice(None), slice(None)) + tuple(
        slice(i * d, i * d + s * (o - 1) + 1, s)
        for i, s, d, o in zip(offset, stride, dilation, out, strict=True)
    )


def unpad(xp: np.ndarray, padding: tuple) -> np.ndarray:
    """The interior of a padded array (a view)."""
    return xp[_interior(padding)] if any(padding) else xp
