"""Packed buffers: many arrays laid out back to back in one flat buffer, so that what is done
to all of them (an optimiser's element-wise update, a sum of squares, a copy) is one NumPy
call over the buffer instead of one call per array.

A compiled plan packs its parameters (and, in the same layout, their gradients); optimisers
pack their state like the parameters. Each array starts at a multiple of `ALIGN` elements,
so it is aligned as a standalone allocation would be (the same BLAS kernels, the same
results); the padding between arrays holds zeros, which every element-wise update maps to
zero and which add nothing to a sum of squares.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

ALIGN = 16  # elements: 64 bytes in float32


def layout(shapes: Sequence[tuple[int, ...]]) -> tuple[list[int], int]:
    """Offsets (in elements) of arrays of these shapes packed in order, and the length up to
    the end of the last one."""
    offsets, end = [], 0
    for shape in shapes:
        start = -(-end // ALIGN) * ALIGN
        offsets.append(start)
        end = start + math.prod(shape)
    return offsets, end


def pack(shapes: Sequence[tuple[int, ...]], dtype) -> tuple[np.ndarray, list[np.ndarray]]:
    """A zeroed flat buffer and the arrays of `shapes` (C-contiguous views of it), in order."""
    offsets, total = layout(shapes)
    flat = np.zeros(total, dtype)
    views = [flat[o : o + math.prod(s)].reshape(s) for o, s in zip(offsets, shapes, strict=True)]
    return flat, views


def pack_like(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray | None, list[np.ndarray]]:
    """Zeroed arrays shaped like `arrays`: packed like them when they are packed (the flat
    buffer, else None, and the arrays)."""
    if arrays and span(arrays) is not None:
        return pack([a.shape for a in arrays], arrays[0].dtype)
    return None, [np.zeros_like(a) for a in arrays]


def span(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """The 1-D view of one packed buffer that holds exactly `arrays` (in order, laid out as
    `pack` lays them out) and the padding between them; None when they are not so packed."""
    if not arrays:
        return None
    base = arrays[0].base
    if not isinstance(base, np.ndarray) or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    dt = base.dtype
    start = base.__array_interface__["data"][0]
    offsets, total = layout([a.shape for a in arrays])
    first = None
    for a, off in zip(arrays, offsets, strict=True):
        if a.base is not base or a.dtype != dt or not a.flags.c_contiguous:
            return None
        at, rem = divmod(a.__array_interface__["data"][0] - start, dt.itemsize)
        if rem:
            return None
        if first is None:
            first = at
        if at - first != off:
            return None
    if first + total > base.size:
        return None
    return base[first : first + total]
