"""Convolution kernels in a channels-last layout: im2col and one GEMM per product.

The op's arrays are PyTorch's ``(batch, channels, *spatial)``; inside, the input and the
gradient are copied once to ``(batch, *spatial, channels)``. Then every window of the
padded input is a block of consecutive channels at each kernel offset, so the im2col
matrix ``cols`` (rows: the output positions of the whole batch; columns: kernel offset ×
channel, per group) is filled by one strided copy whose inner runs are whole channel
vectors, and each product is one GEMM with the long side (batch × positions) first, the
shape BLAS is fastest at (measured: 0.41 ms against 0.59 ms channels-first, 64 × 16×8×8 →
32 channels). Spatial parameters are per-axis tuples.

The input gradient, for stride 1 (the usual layer), is itself a convolution: the gradient
``g``, padded by ``reach - 1 - padding``, correlated with the flipped kernels, input and
output channels swapped. That is one more im2col and GEMM, with no scatter. For other
strides, col2im adds each kernel offset's slab of ``Wᵀg`` where that offset read the input:
a loop over the kernel's offsets, never over positions.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import windows as Win


def reach(kernel: tuple, dilation: tuple) -> tuple:
    """Input cells a kernel spans along each axis."""
    return tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))


def out_dims(spatial: tuple, kernel, stride, padding, dilation) -> tuple:
    """Output size along each axis (PyTorch's formula)."""
    return tuple(
        (n + 2 * p - r) // s + 1
        for n, r, s, p in zip(spatial, reach(kernel, dilation), stride, padding, strict=True)
    )


def transposes_by_conv(stride: tuple, padding: tuple, kernel, dilation, channels: tuple) -> bool:
    """Whether the input gradient is best made as a plain convolution of the gradient: it is
    one for stride 1 and padding no wider than the kernel's reach minus one, and it is the
    faster way unless the input has far fewer channels than the output (``channels`` = (in,
    out)): that convolution copies out-channel windows per input position, col2im in-channel
    windows per output position (1 → 16 channels: 0.46 against 0.50 ms for the layer)."""
    c_in, c_out = channels
    return (
        4 * c_in >= c_out
        and all(s == 1 for s in stride)
        and all(p <= r - 1 for p, r in zip(padding, reach(kernel, dilation), strict=True))
    )


def view(buf: np.ndarray, shape: tuple) -> np.ndarray:
    """The first ``prod(shape)`` cells of scratch buffer ``buf`` as an array of ``shape``."""
    return buf.reshape(-1)[: math.prod(shape)].reshape(shape)


def interior(padding: tuple, spatial: tuple) -> tuple:
    """The index of a channels-last padded array's interior."""
    inner = (slice(p, p + n) for p, n in zip(padding, spatial, strict=True))
    return (slice(None), *inner, slice(None))


def to_padded(a: np.ndarray, buf: np.ndarray, padding: tuple) -> np.ndarray:
    """``a`` (B, C, *S) written channels-last into the interior of ``buf`` viewed as
    (B, *(S + 2·padding), C). The border is never written, so it stays zero."""
    P = tuple(n + 2 * p for n, p in zip(a.shape[2:], padding, strict=True))
    ap = view(buf, (a.shape[0], *P, a.shape[1]))
    np.copyto(ap[interior(padding, a.shape[2:])], np.moveaxis(a, 1, -1))
    return ap


def im2col(ap, cols, kernel, stride, dilation, out, groups) -> np.ndarray:
    """Every window of ``ap`` (B, *P, C) copied into ``cols``: returned as (N, G, K·C/G),
    N = B·prod(out), each row one window as (kernel offset, channel of the group)."""
    B, C = ap.shape[0], ap.shape[-1]
    st = ap.strides
    cg = C // groups
    shape = (B, *out, groups, *kernel, cg)
    strides = (
        st[0],
        *(t * s for t, s in zip(st[1:-1], stride, strict=True)),
        cg * st[-1],
        *(t * d for t, d in zip(st[1:-1], dilation, strict=True)),
        st[-1],
    )
    c = view(cols, shape)
    np.copyto(c, as_strided(ap, shape, strides, writeable=False))
    return c.reshape(B * math.prod(out), groups, -1)


def positions_last(channels: int, groups: int, kernel: tuple, out: tuple) -> bool:
    """Whether ``cols`` is better laid out positions-last, (G·K·C/G, N), filled from the
    channels-first input: its copy then runs along output rows (``out[-1]`` cells) rather
    than along window rows (``kernel[-1]·C/G`` cells). The longer run wins: positions-last
    for few channels (a first layer: 1 → 16 channels, 0.46 → 0.40 ms for the layer)."""
    return kernel[-1] * (channels // groups) < out[-1]


def im2col_positions_last(x, xpad, cols, kernel, stride, padding, dilation, out, groups):
    """:func:`im2col` from the channels-first ``x`` (B, C, *S), padded into ``xpad``:
    ``cols`` laid out (G, *K, C/G, N), returned as the same (N, G, K·C/G) view."""
    B, C = x.shape[:2]
    P = tuple(n + 2 * p for n, p in zip(x.shape[2:], padding, strict=True))
    xp = Win.padded(x, padding, view(xpad, (B, C, *P)))
    st = xp.strides
    cg = C // groups
    shape = (groups, *kernel, cg, B, *out)
    strides = (
        cg * st[1],
        *(t * d for t, d in zip(st[2:], dilation, strict=True)),
        st[1],
        st[0],
        *(t * s for t, s in zip(st[2:], stride, strict=True)),
    )
    c = view(cols, shape)
    np.copyto(c, as_strided(xp, shape, strides, writeable=False))
    return cols_view(cols, B * math.prod(out), groups, math.prod(kernel) * cg, True)


def cols_view(cols: np.ndarray, n: int, groups: int, kc: int, last: bool) -> np.ndarray:
    """The im2col matrix in scratch buffer ``cols`` as (N, G, K·C/G), whichever its layout
    (``last``: positions-last, see :func:`positions_last`)."""
    if last:
        return view(cols, (groups, kc, n)).transpose(2, 0, 1)
    return view(cols, (n, groups, kc))


def grouped(W: np.ndarray, groups: int) -> np.ndarray:
    """W (out, C/G, *K) -> (G, out/G, K·C/G): the rows the GEMM multiplies ``cols`` by."""
    Wg = W.reshape(groups, W.shape[0] // groups, *W.shape[1:])
    return np.moveaxis(Wg, 2, -1).reshape(groups, Wg.shape[1], -1)


def ungrouped(dWg: np.ndarray, shape: tuple) -> np.ndarray:
    """The inverse of :func:`grouped`: (G, out/G, K·C/G) -> (out, C/G, *K)."""
    G, og = dWg.shape[:2]
    a = dWg.reshape(G, og, *shape[2:], shape[1])
    return np.moveaxis(a, -1, 2).reshape(shape)


def flipped(W: np.ndarray, groups: int) -> np.ndarray:
    """The kernels of the input gradient's convolution, as :func:`grouped` lays them out:
    (G, C/G, K·out/G), W flipped along every spatial axis, in and out channels swapped."""
    nd = W.ndim - 2
    og = W.shape[0] // groups
    Wg = W.reshape(groups, og, *W.shape[1:])  # (G, og, cg, *K)
    Wf = Wg[(Ellipsis, *(slice(None, None, -1),) * nd)]
    return np.moveaxis(Wf, 1, -1).reshape(groups, W.shape[1], -1)  # (G, cg, *K, og)


def product(cols: np.ndarray, Wg: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """cols (N, G, K·C/G) times each group's rows of Wg (G, m, K·C/G): (N, G·m)."""
    if Wg.shape[0] == 1:
        return np.dot(cols[:, 0], Wg[0].T, out=out)
    r = np.matmul(cols.transpose(1, 0, 2), Wg.transpose(0, 2, 1))  # (G, N, m)
    r = np.moveaxis(r, 0, 1).reshape(cols.shape[0], -1)
    if out is None:
        return r
    np.copyto(out, r)
    return out


def to_channels_first(aT: np.ndarray, shape: tuple, out, bias=None) -> np.ndarray:
    """aT (B·prod(S), C) -> (B, C, *S) into ``out`` (allocated when None), plus ``bias``
    per channel on the way: one pass."""
    a = np.moveaxis(aT.reshape(shape[0], *shape[2:], shape[1]), -1, 1)
    if out is None:
        out = np.empty(shape, aT.dtype)
    if bias is None:
        np.copyto(out, a)
    else:
        np.add(a, bias.reshape(-1, *(1,) * (len(shape) - 2)), out=out)
    return out


def grad_rows(g: np.ndarray, buf: np.ndarray) -> np.ndarray:
    """g (B, out, *O) -> (B·prod(O), out), channels-last, in ``buf``."""
    gT = view(buf, (g.shape[0], *g.shape[2:], g.shape[1]))
    np.copyto(gT, np.moveaxis(g, 1, -1))
    return gT.reshape(-1, g.shape[1])


def per_sample_product(Wg: np.ndarray, cols: np.ndarray, shape: tuple, out) -> np.ndarray:
    """out (B, G·m, *S), channels-first: out[b, group] = Wg[group] (m, K·C/G) times the
    sample's rows of ``cols`` (N, G, K·C/G), transposed. One small GEMM per sample writes
    the op's layout directly, with no transpose pass: for the input gradient that beats one
    large GEMM and a transpose at one BLAS thread (0.36 against 0.48 ms, 64 × 16×8×8 → 32
    channels; the large GEMM wins for the forward product, 0.41 + 0.08 against 0.68 ms)."""
    B, n = shape[0], math.prod(shape[2:])
    G, m, kc = Wg.shape
    c = cols.reshape(B, n, G, kc).transpose(0, 2, 3, 1)  # (B, G, K·C/G, n)
    if out is not None and out.flags.c_contiguous:
        np.matmul(Wg, c, out=out.reshape(B, G, m, n))
        return out
    r = np.matmul(Wg, c).reshape(shape)
    if out is None:
        return r
    np.copyto(out, r)
    return out


def weight_grad(g: np.ndarray, cols: np.ndarray, groups: int) -> np.ndarray:
    """dC/dW as :func:`grouped` lays W out, (G, out/G, K·C/G): the sum over samples of
    g_b (out/G, positions) times the sample's rows of ``cols``. Per sample, so that the
    channels-first ``g`` needs no transpose (0.37 against 0.44 + 0.04 ms in one GEMM)."""
    B, O, n = g.shape[0], g.shape[1], math.prod(g.shape[2:])
    gg = g.reshape(B, groups, O // groups, n)
    c = cols.reshape(B, n, groups, -1).transpose(0, 2, 1, 3)  # (B, G, n, K·C/G)
    return np.matmul(gg, c).sum(axis=0)


def window_grad(gT: np.ndarray, Wg: np.ndarray) -> np.ndarray:
    """dC/dcols = g·W per group: (N, G·K·C/G) from gT (N, out) and Wg (G, out/G, K·C/G)."""
    if Wg.shape[0] == 1:
        return np.dot(gT, Wg[0])
    gg = gT.reshape(gT.shape[0], Wg.shape[0], -1).transpose(1, 0, 2)  # (G, N, og)
    return np.moveaxis(np.matmul(gg, Wg), 0, 1).reshape(gT.shape[0], -1)


def offsets(kernel: tuple):
    """Every kernel offset, as an index tuple."""
    return itertools.product(*(range(k) for k in kernel))


def col2im(dcols, dxpad, kernel, stride, dilation, out, groups) -> np.ndarray:
    """The padded input's gradient (B, *P, C) in ``dxpad``, from the windows' gradients
    ``dcols`` (N, G·K·C/G): each kernel offset's slab added where that offset read."""
    B, C = dxpad.shape[0], dxpad.shape[-1]
    cg = C // groups
    dc = dcols.reshape(B, *out, groups, *kernel, cg)
    dxg = dxpad.reshape(*dxpad.shape[:-1], groups, cg)
    dxpad.fill(0)
    nd = len(kernel)
    for off in offsets(kernel):
        read = tuple(
            slice(i * d, i * d + s * (o - 1) + 1, s)
            for i, d, s, o in zip(off, dilation, stride, out, strict=True)
        )
        dxg[(slice(None), *read)] += dc[(slice(None),) * (nd + 2) + off]
    return dxpad
