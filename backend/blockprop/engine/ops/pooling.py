"""Pooling over per-sample ``[channels, height, width]`` images, like PyTorch's.

Each rule loops over the kh·kw kernel offsets (4 for a 2×2 pool), each step one vectorised
operation on a strided view of the whole batch, never over output positions. Kernel size,
stride and padding are each a whole number (both axes) or [along height, along width].
"""

from __future__ import annotations

import math

import numpy as np

from .. import windows as Win
from ..registry import OpDef, Param, Sample, expect
from .conv import fmt_axes, spatial_out, torch_axes

ND = 2  # spatial axes of the pools' images
PER_AXIS = " (one number, or [along height, along width])"


def pool_params() -> list[Param]:
    return [
        Param("kernel_size", "ints", 2, min=1, max=64, axes=ND, doc="window size" + PER_AXIS),
        Param(
            "stride",
            "ints",
            None,
            min=1,
            max=64,
            axes=ND,
            nullable=True,
            doc="step between windows" + PER_AXIS + "; null: the kernel size",
        ),
        Param(
            "padding", "ints", 0, min=0, max=32, axes=ND, doc="cells added on each side" + PER_AXIS
        ),
    ]


def _windows(kernel_size, stride, padding) -> tuple:
    """Kernel, stride (the kernel's when null) and padding as per-axis tuples."""
    k = Win.per_axis(kernel_size, ND)
    s = k if stride is None else Win.per_axis(stride, ND)
    return k, s, Win.per_axis(padding, ND)


def _pool_shape(x, kernel_size, stride, padding):
    k, s, p = _windows(kernel_size, stride, padding)
    expect(
        all(2 * pi <= ki for pi, ki in zip(p, k, strict=True)),
        None,
        f"padding ({fmt_axes(p)}) at most half the kernel size ({fmt_axes(k)})",
    )
    out = spatial_out(x, k, s, p, 1, ND, "image")
    return (x[0], *out)


def _pad_shape(x, padding):
    p = Win.per_axis(padding, len(x) - 1)
    return (x[0], *(n + 2 * q for n, q in zip(x[1:], p, strict=True)))


def _slabs(kernel, stride, O):
    """(offset index, the (B, C, *O) view that kernel offset reads) for every offset."""
    ones = (1,) * len(kernel)
    for q, off in enumerate(Win.offsets(kernel)):
        yield q, Win.offset_slice(off, stride, ones, O)


def _max_forward(x, xpad, arg, kernel_size, stride, padding, out):
    k, s, p = _windows(kernel_size, stride, padding)
    xp = Win.padded(x, p, xpad, fill=-np.inf)
    O = Win.out_sizes(x.shape[2:], k, s, p)
    if out is None:
        out = np.empty((*x.shape[:2], *O), x.dtype)
    for q, idx in _slabs(k, s, O):
        if q == 0:
            np.copyto(out, xp[idx])
            arg.fill(0)
            continue
        better = xp[idx] > out  # strictly: the first maximum wins, as in PyTorch
        np.copyto(out, xp[idx], where=better)
        np.copyto(arg, q, where=better)
    return out


def _max_dx(g, x, arg, dxpad, kernel_size, stride, padding, out):
    k, s, p = _windows(kernel_size, stride, padding)
    dxp = dxpad if any(p) else (out if out is not None else np.empty(x.shape, x.dtype))
    dxp.fill(0)
    for q, idx in _slabs(k, s, g.shape[2:]):
        dxp[idx] += g * (arg == q)
    r = Win.unpad(dxp, p)
    if out is None:
        return r.copy() if any(p) else r
    if r is not out:
        np.copyto(out, r)
    return out


def _avg_forward(x, xpad, kernel_size, stride, padding, out):
    k, s, p = _windows(kernel_size, stride, padding)
    xp = Win.padded(x, p, xpad)
    O = Win.out_sizes(x.shape[2:], k, s, p)
    if out is None:
        out = np.empty((*x.shape[:2], *O), x.dtype)
    for q, idx in _slabs(k, s, O):
        if q == 0:
            np.copyto(out, xp[idx])
        else:
            out += xp[idx]
    out *= 1.0 / math.prod(k)  # padding counts in the mean, as in PyTorch's default
    return out


def _avg_dx(g, x, dxpad, kernel_size, stride, padding, out):
    k, s, p = _windows(kernel_size, stride, padding)
    dxp = dxpad if any(p) else (out if out is not None else np.empty(x.shape, x.dtype))
    dxp.fill(0)
    share = g * (1.0 / math.prod(k))
    for _, idx in _slabs(k, s, g.shape[2:]):
        dxp[idx] += share
    r = Win.unpad(dxp, p)
    if out is None:
        return r.copy() if any(p) else r
    if r is not out:
        np.copyto(out, r)
    return out


# -- global average pooling: [C, *spatial] -> [C]


def _gap_shape(x):
    expect(len(x) >= 2, "x", "a [channels, *spatial] input (at least one spatial axis)", x)
    return (x[0],)


def _gap_forward(x, out):
    n = math.prod(x.shape[2:])
    r = np.sum(x.reshape(*x.shape[:2], n), axis=-1, out=out)
    r *= 1.0 / n
    return r


def _gap_dx(g, x, out):
    n = math.prod(x.shape[2:])
    ge = g.reshape(*g.shape, *(1,) * (x.ndim - 2)) * (1.0 / n)
    if out is None:
        return np.broadcast_to(ge, x.shape).copy()
    np.copyto(out, ge)
    return out


def _pool_onnx(kind):
    def rule(ox, x, kernel_size, stride, padding):
        k, s, p = (list(v) for v in _windows(kernel_size, stride, padding))
        attrs = {"kernel_shape": k, "strides": s, "pads": p + p}  # pads: starts, then ends
        if kind == "AveragePool":
            attrs["count_include_pad"] = 1
        return ox.op(kind, x, **attrs)

    return rule


def _pool_torch(fn):
    def rule(x, kernel_size, stride, padding):
        s = kernel_size if stride is None else stride
        k, s, p = map(torch_axes, (kernel_size, s, padding))
        return f"F.{fn}({x}, {k}, {s}, {p})"

    return rule


SAMPLES = [
    Sample({"x": (2, 4, 4)}),
    Sample({"x": (1, 5, 6)}, {"kernel_size": 3, "stride": 1, "padding": 1}),
    Sample({"x": (3, 5, 5)}, {"kernel_size": 2, "stride": 2, "padding": 1}),
    # non-square windows, per-axis stride and padding
    Sample({"x": (2, 5, 7)}, {"kernel_size": [2, 3], "stride": [1, 2], "padding": [1, 0]}),
    # a per-axis kernel with the default stride (the kernel's), unpadded
    Sample({"x": (2, 6, 6)}, {"kernel_size": [3, 2]}),
]

OPS = [
    OpDef(
        name="max_pool2d",
        label="MaxPool2D",
        category="function",
        doc="Largest value of each kh×kw window of each channel; the gradient goes to that "
        "value's position (the first one on a tie).",
        inputs=[("x", "input [channels, height, width]")],
        params=pool_params(),
        scratch={"xpad": _pad_shape, "dxpad": _pad_shape, "arg": _pool_shape},
        shape=_pool_shape,
        forward=_max_forward,
        vjp={"x": _max_dx},
        torch=_pool_torch("max_pool2d"),
        onnx=_pool_onnx("MaxPool"),
        formula={
            "forward": r"z_{c,ij} = \max_{(u,v) \in \text{window}_{ij}} x_{c,uv}",
            "backward": r"\frac{\partial C}{\partial x_{c,uv}} = \sum_{ij} g_{c,ij}\, "
            r"[(u,v) = \arg\max \text{window}_{ij}]"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\max_{\text{window}} @x",
            "x": r"@g \text{ routed to each window's } \arg\max\ (@arg)",
            "symbols": {"arg": r"\arg\max"},
        },
        samples=SAMPLES,
    ),
    OpDef(
        name="avg_pool2d",
        label="AvgPool2D",
        category="function",
        doc="Mean of each kh×kw window of each channel (padding counts as zeros in the mean, "
        "as in PyTorch).",
        inputs=[("x", "input [channels, height, width]")],
        params=pool_params(),
        scratch={"xpad": _pad_shape, "dxpad": _pad_shape},
        shape=_pool_shape,
        forward=_avg_forward,
        vjp={"x": _avg_dx},
        torch=_pool_torch("avg_pool2d"),
        onnx=_pool_onnx("AveragePool"),
        formula={
            "forward": r"z_{c,ij} = \frac{1}{k_h k_w} \sum_{(u,v) \in \text{window}_{ij}} x_{c,uv}",
            "backward": r"\frac{\partial C}{\partial x_{c,uv}} = \frac{1}{k_h k_w} "
            r"\sum_{ij:\, (u,v) \in \text{window}_{ij}} g_{c,ij}"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\operatorname{mean}_{\text{window}} @x",
            "x": r"\tfrac{1}{k_h k_w} \textstyle\sum_{\text{windows}} @g",
        },
        samples=SAMPLES,
    ),
    OpDef(
        name="global_avg_pool",
        label="GlobalAvgPool",
        category="function",
        doc="Mean of each channel over all its positions: [channels, …] -> [channels].",
        inputs=[("x", "input [channels, *spatial]")],
        shape=_gap_shape,
        forward=_gap_forward,
        vjp={"x": _gap_dx},
        torch=lambda pt, x: f"{x}.mean({tuple(range(2, 2 + len(pt.shapes['x']) - 1))})",
        onnx=lambda ox, x: ox.reduce("ReduceMean", x, list(range(2, 1 + len(ox.shapes["x"])))),
        formula={
            "forward": r"z_c = \frac{1}{n} \sum_{u} x_{c,u}",
            "backward": r"\frac{\partial C}{\partial x_{c,u}} = \frac{g_c}{n}"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\tfrac{1}{n} \textstyle\sum_u {@x}_{c,u}",
            "x": r"\tfrac{1}{n}\, @g",
        },
        samples=[Sample({"x": (3, 4, 4)}), Sample({"x": (2, 5)})],
    ),
]
