"""Pooling over per-sample ``[channels, height, width]`` images, like PyTorch's.

Each rule loops over the k·k kernel offsets (4 for a 2×2 pool), each step one vectorised
operation on a strided view of the whole batch, never over output positions.
"""

from __future__ import annotations

import math

import numpy as np

from .. import windows as Win
from ..registry import OpDef, Param, Sample, expect
from .conv import spatial_out


def pool_params() -> list[Param]:
    return [
        Param("kernel_size", "int", 2, min=1, max=64, doc="window size along each axis"),
        Param(
            "stride",
            "int",
            None,
            min=1,
            max=64,
            nullable=True,
            doc="step between windows; null: the kernel size",
        ),
        Param("padding", "int", 0, min=0, max=32, doc="cells added on each side"),
    ]


def _step(kernel_size, stride):
    return kernel_size if stride is None else stride


def _pool_shape(x, kernel_size, stride, padding):
    expect(
        2 * padding <= kernel_size,
        None,
        f"padding ({padding}) at most half the kernel size ({kernel_size})",
    )
    out = spatial_out(x, kernel_size, _step(kernel_size, stride), padding, 1, 2, "image")
    return (x[0], *out)


def _pad_shape(x, padding):
    return (x[0], *(n + 2 * padding for n in x[1:]))


def _slabs(xp, kernel_size, stride, O):
    """(offset index, the (B, C, *O) view that kernel offset reads) for every offset."""
    for q, off in enumerate(Win.offsets(kernel_size, 2)):
        yield q, Win.offset_slice(off, stride, 1, O)


def _max_forward(x, xpad, arg, kernel_size, stride, padding, out):
    s = _step(kernel_size, stride)
    xp = Win.padded(x, padding, xpad, fill=-np.inf)
    O = tuple(Win.out_size(n, kernel_size, s, padding) for n in x.shape[2:])
    if out is None:
        out = np.empty((*x.shape[:2], *O), x.dtype)
    for q, idx in _slabs(xp, kernel_size, s, O):
        if q == 0:
            np.copyto(out, xp[idx])
            arg.fill(0)
            continue
        better = xp[idx] > out  # strictly: the first maximum wins, as in PyTorch
        np.copyto(out, xp[idx], where=better)
        np.copyto(arg, q, where=better)
    return out


def _max_dx(g, x, arg, dxpad, kernel_size, stride, padding, out):
    s = _step(kernel_size, stride)
    dxp = dxpad if padding else (out if out is not None else np.empty(x.shape, x.dtype))
    dxp.fill(0)
    for q, idx in _slabs(dxp, kernel_size, s, g.shape[2:]):
        dxp[idx] += g * (arg == q)
    r = Win.unpad(dxp, padding)
    if out is None:
        return r.copy() if padding else r
    if r is not out:
        np.copyto(out, r)
    return out


def _avg_forward(x, xpad, kernel_size, stride, padding, out):
    s = _step(kernel_size, stride)
    xp = Win.padded(x, padding, xpad)
    O = tuple(Win.out_size(n, kernel_size, s, padding) for n in x.shape[2:])
    if out is None:
        out = np.empty((*x.shape[:2], *O), x.dtype)
    for q, idx in _slabs(xp, kernel_size, s, O):
        if q == 0:
            np.copyto(out, xp[idx])
        else:
            out += xp[idx]
    out *= 1.0 / kernel_size**2  # padding counts in the mean, as in PyTorch's default
    return out


def _avg_dx(g, x, dxpad, kernel_size, stride, padding, out):
    s = _step(kernel_size, stride)
    dxp = dxpad if padding else (out if out is not None else np.empty(x.shape, x.dtype))
    dxp.fill(0)
    share = g * (1.0 / kernel_size**2)
    for _, idx in _slabs(dxp, kernel_size, s, g.shape[2:]):
        dxp[idx] += share
    r = Win.unpad(dxp, padding)
    if out is None:
        return r.copy() if padding else r
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
        s = _step(kernel_size, stride)
        attrs = {"kernel_shape": [kernel_size] * 2, "strides": [s] * 2, "pads": [padding] * 4}
        if kind == "AveragePool":
            attrs["count_include_pad"] = 1
        return ox.op(kind, x, **attrs)

    return rule


def _pool_torch(fn):
    return lambda x, kernel_size, stride, padding: (
        f"F.{fn}({x}, {kernel_size}, {_step(kernel_size, stride)}, {padding})"
    )


SAMPLES = [
    Sample({"x": (2, 4, 4)}),
    Sample({"x": (1, 5, 6)}, {"kernel_size": 3, "stride": 1, "padding": 1}),
    Sample({"x": (3, 5, 5)}, {"kernel_size": 2, "stride": 2, "padding": 1}),
]

OPS = [
    OpDef(
        name="max_pool2d",
        label="MaxPool2D",
        category="function",
        doc="Largest value of each k×k window of each channel; the gradient goes to that "
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
        doc="Mean of each k×k window of each channel (padding counts as zeros in the mean, "
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
            "forward": r"z_{c,ij} = \frac{1}{k^2} \sum_{(u,v) \in \text{window}_{ij}} x_{c,uv}",
            "backward": r"\frac{\partial C}{\partial x_{c,uv}} = \frac{1}{k^2} "
            r"\sum_{ij:\, (u,v) \in \text{window}_{ij}} g_{c,ij}"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\operatorname{mean}_{\text{window}} @x",
            "x": r"\tfrac{1}{k^2} \textstyle\sum_{\text{windows}} @g",
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
