"""Convolutions over per-sample ``[channels, length]`` or ``[channels, height, width]`` inputs.

The op declarations; the kernels are in ``channels_last``: im2col plus one GEMM for the
forward product and per-sample GEMMs for the gradients, with no Python loop over output
positions. Layout and parameters follow ``torch.nn.Conv1d`` / ``Conv2d``: W
``[out, in/groups, k]`` or ``[out, in/groups, kh, kw]``, b ``[out]``, both initialised as
PyTorch does: U(±1/√fan_in), fan_in = in/groups · kh · kw. Kernel size, stride, padding and
dilation are each a whole number (every axis) or a list with one per axis, as in PyTorch."""

from __future__ import annotations

import math

import numpy as np

from .. import channels_last as CL
from .. import windows as Win
from ..registry import INIT_CHOICES, OpDef, Param, Sample, Trainable, expect

AXES = {1: "length", 2: "height, width"}
#: the doc of a per-axis param says how to write one: 3, or a list with one entry per axis
PER_AXIS = {1: "", 2: " (one number, or [along height, along width])"}


def conv_params(nd: int) -> list[Param]:
    ax = PER_AXIS[nd]
    return [
        Param("out_channels", "int", None, min=1, required=True, doc="number of output channels"),
        Param("kernel_size", "ints", 3, min=1, max=64, axes=nd, doc="kernel size" + ax),
        Param("stride", "ints", 1, min=1, max=64, axes=nd, doc="step between windows" + ax),
        Param("padding", "ints", 0, min=0, max=64, axes=nd, doc="zeros added on each side" + ax),
        Param(
            "dilation", "ints", 1, min=1, max=64, axes=nd, doc="spacing of the kernel's taps" + ax
        ),
        Param("groups", "int", 1, min=1, doc="channel groups (in and out divisible by it)"),
        Param("bias", "bool", True, doc="add a trainable bias b per output channel"),
        Param(
            "init",
            "str",
            "uniform",
            choices=INIT_CHOICES,
            doc="initialiser of W (uniform: PyTorch's default, U(±1/√fan_in))",
        ),
    ]


def fmt_axes(values: tuple) -> str:
    """A per-axis value as written in messages: ``3`` when every axis agrees, else ``2×3``."""
    return str(values[0]) if len(set(values)) == 1 else "×".join(map(str, values))


def spatial_out(x, kernel_size, stride, padding, dilation, nd: int, what: str) -> tuple:
    """Per-sample output size of a window sweep over ``x`` = [channels, *spatial]; the
    spatial params are whole numbers or per-axis lists (checked against ``nd`` already)."""
    expect(len(x) == nd + 1, "x", f"a [channels, {AXES[nd]}] {what}", x or "a scalar")
    k, s, p, d = (Win.per_axis(v, nd) for v in (kernel_size, stride, padding, dilation))
    out = tuple(map(Win.out_size, x[1:], k, s, p, d))
    # the smallest extent with one window: the kernel's reach less the padding
    least = tuple(max(di * (ki - 1) + 1 - 2 * pi, 1) for ki, pi, di in zip(k, p, d, strict=True))
    need = (
        f"{AXES[nd]} of at least {least[0]}"
        if len(set(least)) == 1
        else " and ".join(
            f"{a} of at least {n}" for a, n in zip(AXES[nd].split(", "), least, strict=True)
        )
    )
    expect(
        all(o >= 1 for o in out),
        "x",
        f"{need} (kernel {fmt_axes(k)}, dilation {fmt_axes(d)}, padding {fmt_axes(p)})",
        x,
    )
    return out


def _shape(nd):
    def rule(x, out_channels, kernel_size, stride, padding, dilation, groups):
        out = spatial_out(x, kernel_size, stride, padding, dilation, nd, "input")
        expect(x[0] % groups == 0, "x", f"a number of channels divisible by groups={groups}", x)
        expect(
            out_channels % groups == 0,
            None,
            f"out_channels ({out_channels}) divisible by groups ({groups})",
        )
        return (out_channels, *out)

    return rule


def _axes(x, kernel_size, stride, padding, dilation) -> tuple:
    """The spatial parameters as per-axis tuples, for ``x``'s spatial axes."""
    nd = len(x) - 1
    return tuple(Win.per_axis(v, nd) for v in (kernel_size, stride, padding, dilation))


# -- scratch, flat per sample (the kernels view them in the shapes they need)


def _xpad_size(x, padding):
    p = _axes(x, 1, 1, padding, 1)[2]
    return (x[0] * math.prod(n + 2 * q for n, q in zip(x[1:], p, strict=True)),)


def _cols_size(x, kernel_size, stride, padding, dilation):
    k, s, p, d = _axes(x, kernel_size, stride, padding, dilation)
    return (math.prod(CL.out_dims(x[1:], k, s, p, d)) * math.prod(k) * x[0],)


def _rows_size(x, out_channels, kernel_size, stride, padding, dilation):
    k, s, p, d = _axes(x, kernel_size, stride, padding, dilation)
    return (math.prod(CL.out_dims(x[1:], k, s, p, d)) * out_channels,)


def _gpad_size(x, out_channels, kernel_size, stride, padding, dilation):
    k, s, p, d = _axes(x, kernel_size, stride, padding, dilation)
    if not CL.transposes_by_conv(s, p, k, d, (x[0], out_channels)):
        return (0,)
    O = CL.out_dims(x[1:], k, s, p, d)
    return (
        math.prod(o + 2 * (r - 1 - q) for o, r, q in zip(O, CL.reach(k, d), p, strict=True))
        * out_channels,
    )


def _gcols_size(x, out_channels, kernel_size, stride, padding, dilation):
    k, s, p, d = _axes(x, kernel_size, stride, padding, dilation)
    if not CL.transposes_by_conv(s, p, k, d, (x[0], out_channels)):
        return (0,)
    return (math.prod(x[1:]) * math.prod(k) * out_channels,)


def _weight_shape(nd):
    return lambda x, out_channels, kernel_size, groups: (
        out_channels,
        x[0] // groups,
        *Win.per_axis(kernel_size, nd),
    )


def _bias_fan_in(nd):
    """The weights' fan-in, in/groups · kh · kw: the bias is drawn from U(±1/√fan_in) too."""
    return lambda x, kernel_size, groups: x[0] // groups * math.prod(Win.per_axis(kernel_size, nd))


# -- the rules: channels-last kernels (see ``channels_last``) between PyTorch's layouts


def _spatial(x: np.ndarray, kernel_size, stride, padding, dilation) -> tuple:
    return _axes((None, *x.shape[2:]), kernel_size, stride, padding, dilation)


def _windows(x, cols, xpad, kernel_size, stride, padding, dilation, groups):
    """im2col of ``x``: (N, G, K·C/G), and the output's spatial size."""
    k, s, p, d = _spatial(x, kernel_size, stride, padding, dilation)
    O = CL.out_dims(x.shape[2:], k, s, p, d)
    if CL.positions_last(x.shape[1], groups, k, O):
        return CL.im2col_positions_last(x, xpad, cols, k, s, p, d, O, groups), O
    return CL.im2col(CL.to_padded(x, xpad, p), cols, k, s, d, O, groups), O


def _forward(x, W, cols, xpad, rows, kernel_size, stride, padding, dilation, groups, out, b=None):
    c, O = _windows(x, cols, xpad, kernel_size, stride, padding, dilation, groups)
    yT = CL.product(c, CL.grouped(W, groups), out=CL.view(rows, (c.shape[0], W.shape[0])))
    return CL.to_channels_first(yT, (x.shape[0], W.shape[0], *O), out, b)


def _dW(g, cols, W, groups, out):
    kc = math.prod(W.shape[1:])  # K·C/G
    last = CL.positions_last(W.shape[1] * groups, groups, W.shape[2:], g.shape[2:])
    c = CL.cols_view(cols, g.shape[0] * math.prod(g.shape[2:]), groups, kc, last)
    r = CL.ungrouped(CL.weight_grad(g, c, groups), W.shape)
    if out is None:
        return r
    np.copyto(out, r)
    return out


def _db(g, out):
    """Σ g over samples and positions: per (sample, channel) sums in one GEMV first, a
    fifth of the time of ``g.sum(axis=(0, 2, 3))``, which strides across the channels."""
    n = math.prod(g.shape[2:])
    per = np.dot(g.reshape(-1, n), np.ones(n, g.dtype)).reshape(g.shape[:2])
    return np.sum(per, axis=0, out=out)


def _dx(g, x, W, rows, gpad, gcols, dxbuf, kernel_size, stride, padding, dilation, groups, out):
    k, s, p, d = _spatial(x, kernel_size, stride, padding, dilation)
    B, C = x.shape[:2]
    if CL.transposes_by_conv(s, p, k, d, (C, W.shape[0])):
        # dC/dx = g, padded by reach - 1 - padding, correlated with the flipped kernels
        q = tuple(r - 1 - pad for r, pad in zip(CL.reach(k, d), p, strict=True))
        gp = CL.to_padded(g, gpad, q)
        gc = CL.im2col(gp, gcols, k, (1,) * len(k), d, x.shape[2:], groups)
        return CL.per_sample_product(CL.flipped(W, groups), gc, x.shape, out)
    dcols = CL.window_grad(CL.grad_rows(g, rows), CL.grouped(W, groups))
    P = tuple(n + 2 * q for n, q in zip(x.shape[2:], p, strict=True))
    dxp = CL.col2im(dcols, CL.view(dxbuf, (B, *P, C)), k, s, d, g.shape[2:], groups)
    r = np.moveaxis(dxp[CL.interior(p, x.shape[2:])], -1, 1)
    if out is None:
        return np.ascontiguousarray(r)
    np.copyto(out, r)
    return out


def _dxbuf_size(x, out_channels, kernel_size, stride, padding, dilation):
    k, s, p, d = _axes(x, kernel_size, stride, padding, dilation)
    if CL.transposes_by_conv(s, p, k, d, (x[0], out_channels)):
        return (0,)
    return _xpad_size(x, padding)


# -- export


def torch_axes(value) -> str:
    """A spatial param as PyTorch source: ``3`` or the per-axis tuple ``(1, 2)``."""
    return str(int(value)) if isinstance(value, (int, np.integer)) else str(tuple(value))


def _torch(name):
    def rule(x, W, b, stride, padding, dilation, groups):
        bias = b or "None"
        s, p, d = map(torch_axes, (stride, padding, dilation))
        return f"F.{name}({x}, {W}, {bias}, stride={s}, padding={p}, dilation={d}, groups={groups})"

    return rule


def _onnx(nd):
    def rule(ox, x, W, b, kernel_size, stride, padding, dilation, groups):
        k, s, p, d = (list(Win.per_axis(v, nd)) for v in (kernel_size, stride, padding, dilation))
        return ox.op(
            "Conv",
            x,
            W,
            *([b] if b else []),
            kernel_shape=k,
            strides=s,
            pads=p + p,  # ONNX: every axis's start, then every axis's end
            dilations=d,
            group=groups,
        )

    return rule


def conv(nd: int) -> OpDef:
    name = f"conv{nd}d"
    dims = AXES[nd]
    samples = (
        [
            Sample({"x": (2, 7)}, {"out_channels": 3, "kernel_size": 3}),
            Sample(
                {"x": (4, 9)},
                {"out_channels": 2, "kernel_size": 2, "stride": 2, "padding": 1, "groups": 2},
            ),
            Sample({"x": (1, 8)}, {"out_channels": 2, "dilation": 2, "bias": False}),
            # padding wider than the kernel's reach: the input gradient goes through col2im
            Sample({"x": (2, 4)}, {"out_channels": 2, "kernel_size": 2, "padding": 2}),
            # per-axis lists (one axis here)
            Sample(
                {"x": (2, 9)},
                {"out_channels": 3, "kernel_size": [3], "stride": [2], "padding": [1]},
            ),
        ]
        if nd == 1
        else [
            Sample({"x": (2, 5, 5)}, {"out_channels": 3, "kernel_size": 3}),
            Sample({"x": (1, 4, 5)}, {"out_channels": 2, "kernel_size": 2, "padding": 1}),
            Sample(
                {"x": (4, 6, 6)},
                {"out_channels": 2, "kernel_size": 3, "stride": 2, "padding": 1, "groups": 2},
            ),
            Sample({"x": (2, 7, 6)}, {"out_channels": 2, "dilation": 2, "bias": False}),
            Sample(
                {"x": (4, 5, 4)},
                {"out_channels": 6, "kernel_size": 3, "padding": 1, "groups": 2},
            ),
            Sample({"x": (2, 3, 3)}, {"out_channels": 3, "kernel_size": 1, "padding": 1}),
            # a first layer (far fewer in than out channels): col2im at stride 1 too
            Sample({"x": (1, 5, 5)}, {"out_channels": 6, "kernel_size": 3, "padding": 1}),
            # non-square: a 2×3 kernel, stride, padding and dilation per axis (col2im path)
            Sample(
                {"x": (2, 6, 7)},
                {
                    "out_channels": 3,
                    "kernel_size": [2, 3],
                    "stride": [1, 2],
                    "padding": [1, 0],
                    "dilation": [2, 1],
                },
            ),
            # non-square at stride 1: the input gradient is a convolution with flipped kernels
            Sample(
                {"x": (4, 5, 6)},
                {"out_channels": 2, "kernel_size": [3, 1], "padding": [1, 0], "groups": 2},
            ),
        ]
    )
    return OpDef(
        name=name,
        label=f"Conv{nd}D",
        category="function",
        doc=f"{nd}-D convolution (cross-correlation, as in PyTorch) of a [channels, {dims}] "
        f"input with out_channels learnt kernels: y_o = b_o + Σ_c W_oc ⋆ x_c.",
        inputs=[("x", f"input [channels, {dims}]")],
        params=conv_params(nd),
        trainables=[
            Trainable(
                "W",
                _weight_shape(nd),
                "[out_channels, in_channels/groups, " + ("kh, kw" if nd == 2 else "k") + "]",
                init=lambda init: init,
                doc="kernels",
                regularize=True,
            ),
            Trainable(
                "b",
                lambda out_channels: (out_channels,),
                "[out_channels]",
                init="uniform",
                when=lambda bias: bias,
                doc="bias, one per output channel",
                fan_in=_bias_fan_in(nd),
            ),
        ],
        scratch={
            "cols": _cols_size,
            "xpad": _xpad_size,
            "rows": _rows_size,
            "gpad": _gpad_size,
            "gcols": _gcols_size,
            "dxbuf": _dxbuf_size,
        },
        shape=_shape(nd),
        forward=_forward,
        vjp={"x": _dx, "W": _dW, "b": _db},
        torch=_torch(name),
        onnx=_onnx(nd),
        formula={
            "forward": r"z_{o} = b_o + \sum_c W_{oc} \star x_c",
            "backward": r"\frac{\partial C}{\partial x_c} = \sum_o W_{oc} \ast g_o,\quad "
            r"\frac{\partial C}{\partial W_{oc}} = x_c \star g_o,\quad "
            r"\frac{\partial C}{\partial b_o} = \sum g_o"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"@[@b + @]\textstyle\sum_c @W \star @x",
            "x": r"\textstyle\sum_o @W \ast @g",
            "W": r"@x \star @g",
            "b": r"\textstyle\sum @g",
        },
        samples=samples,
    )


OPS = [conv(1), conv(2)]

__all__ = ["OPS", "conv_params", "fmt_axes", "spatial_out", "torch_axes"]
