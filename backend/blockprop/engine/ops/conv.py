"""Convolutions over per-sample ``[channels, length]`` or ``[channels, height, width]`` inputs.

Forward is im2col plus one GEMM: every window of the (padded) input is copied once into a
``cols`` matrix (rows: channel × kernel offset; columns: the output positions of the whole
batch) with stride tricks, and the weights reshaped to ``out × (in/groups · k…)`` multiply
it. The VJPs reuse ``cols``: dW is one GEMM; dx is one GEMM followed by col2im, a loop over
the kernel offsets (9 for a 3×3 kernel), never over output positions; with stride 1 each
offset adds one contiguous run per (channel, sample) (see ``_col2im_rows``). Layout and
parameters follow ``torch.nn.Conv1d`` / ``Conv2d``: W ``[out, in/groups, k(, k)]``, b
``[out]``, both initialised as PyTorch does: U(±1/√fan_in), fan_in = in/groups · k…."""

from __future__ import annotations

import math

import numpy as np

from .. import windows as Win
from ..registry import INIT_CHOICES, OpDef, Param, Sample, Trainable, expect

AXES = {1: "length", 2: "height, width"}


def conv_params() -> list[Param]:
    return [
        Param("out_channels", "int", None, min=1, required=True, doc="number of output channels"),
        Param("kernel_size", "int", 3, min=1, max=64, doc="kernel size along each axis"),
        Param("stride", "int", 1, min=1, max=64, doc="step between windows"),
        Param("padding", "int", 0, min=0, max=64, doc="zeros added on each side"),
        Param("dilation", "int", 1, min=1, max=64, doc="spacing of the kernel's taps"),
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


def spatial_out(x, kernel_size, stride, padding, dilation, nd: int, what: str) -> tuple:
    """Per-sample output size of a window sweep over ``x`` = [channels, *spatial]."""
    expect(len(x) == nd + 1, "x", f"a [channels, {AXES[nd]}] {what}", x or "a scalar")
    reach = dilation * (kernel_size - 1) + 1
    out = tuple(Win.out_size(n, kernel_size, stride, padding, dilation) for n in x[1:])
    expect(
        all(o >= 1 for o in out),
        "x",
        f"{AXES[nd]} of at least {reach - 2 * padding} (kernel {kernel_size}, dilation "
        f"{dilation}, padding {padding})",
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


def _cols_shape(nd):
    def rule(x, kernel_size, stride, padding, dilation):
        out = spatial_out(x, kernel_size, stride, padding, dilation, nd, "input")
        return (math.prod(out), x[0] * kernel_size**nd)

    return rule


def _pad_shape(x, padding):
    return (x[0], *(n + 2 * padding for n in x[1:]))


def _weight_shape(nd):
    return lambda x, out_channels, kernel_size, groups: (
        out_channels,
        x[0] // groups,
        *(kernel_size,) * nd,
    )


# -- the rules. Inside them the batch axis goes second, after the channels: the padded
# input is (C, B, *P), cols is (C·K, B·O) and the gradients (out, B·O). Then the forward
# product, dW and dcols are each one GEMM, and each kernel offset's slab of dcols is a
# contiguous (C, B, *O) block for col2im. The scratch buffers are reinterpreted in that
# layout (same size).


def _cb(a: np.ndarray, shape: tuple) -> np.ndarray:
    """The memory of scratch buffer ``a`` as an array of ``shape`` (same size)."""
    return a.reshape(-1).reshape(shape)


def _by_group(a: np.ndarray, groups: int) -> np.ndarray:
    """(groups · m, n) -> (groups, m, n), a view."""
    return a.reshape(groups, -1, a.shape[-1])


def _gT(g):
    """g (B, out, *O) -> (out, B·O)."""
    return np.swapaxes(g, 0, 1).reshape(g.shape[1], -1)


def _out_dims(x, kernel_size, stride, padding, dilation) -> tuple:
    return tuple(Win.out_size(n, kernel_size, stride, padding, dilation) for n in x.shape[2:])


def _im2col(x, cols, xpad, kernel_size, stride, padding, dilation) -> np.ndarray:
    """Fill ``cols`` with every window of the padded ``x``: returns it as (C·K, B·O)."""
    B, C = x.shape[:2]
    nd = x.ndim - 2
    P = tuple(n + 2 * padding for n in x.shape[2:])
    O = _out_dims(x, kernel_size, stride, padding, dilation)
    xp = _cb(xpad, (C, B, *P))
    inner = (slice(None), slice(None), *(slice(padding, padding + n) for n in x.shape[2:]))
    np.copyto(xp[inner], np.swapaxes(x, 0, 1))  # the zero border is never written
    win = Win.windows(xp, kernel_size, stride, dilation, O)  # (C, B, *O, *K)
    K = (kernel_size,) * nd
    c = _cb(cols, (C, *K, B, *O))
    np.copyto(c, win.transpose(0, *range(2 + nd, 2 + 2 * nd), 1, *range(2, 2 + nd)))
    return c.reshape(C * kernel_size**nd, -1)


def _forward(x, W, cols, xpad, kernel_size, stride, padding, dilation, groups, out, b=None):
    B = x.shape[0]
    O = _out_dims(x, kernel_size, stride, padding, dilation)
    c2 = _im2col(x, cols, xpad, kernel_size, stride, padding, dilation)
    Wm = W.reshape(W.shape[0], -1)
    if groups == 1:
        # (B·O, out): BLAS is faster with the long side first; laid out (B, *O, out)
        y = np.moveaxis(np.dot(c2.T, Wm.T).reshape(B, *O, -1), -1, 1)
    else:
        y = np.matmul(_by_group(Wm, groups), _by_group(c2, groups)).reshape(W.shape[0], -1)
        y = np.swapaxes(y.reshape(W.shape[0], B, *O), 0, 1)
    if out is None:
        out = np.empty(y.shape, y.dtype)
    if b is None:
        np.copyto(out, y)
    else:  # the bias added on the way back to (B, out, *O): one pass
        np.add(y, b.reshape(-1, *(1,) * len(O)), out=out)
    return out


def _dW(g, cols, W, groups, out):
    gT = _gT(g)
    c2 = cols.reshape(-1).reshape(-1, gT.shape[1])  # (C·K, B·O)
    if groups == 1:
        r = np.dot(c2, gT.T).T  # (C·K, out) first: faster in BLAS than (out, C·K)
    else:  # (G, out/G, B·O) @ (G, B·O, C/G·K)
        r = np.matmul(_by_group(gT, groups), _by_group(c2, groups).transpose(0, 2, 1))
    r = r.reshape(W.shape)
    if out is None:
        return r
    np.copyto(out, r)
    return out


def _db(g, out):
    axes = (0, *range(2, g.ndim))
    return np.sum(g, axis=axes, out=out)


def _dcols(Wm, gT, groups):
    """dC/dcols = Wᵀ g per group: (C·K, N) from gT (out, N)."""
    if groups == 1:
        return np.dot(Wm.T, gT)
    # (G, C/G·K, out/G) @ (G, out/G, N)
    dc = np.matmul(_by_group(Wm, groups).transpose(0, 2, 1), _by_group(gT, groups))
    return dc.reshape(-1, gT.shape[1])


def _dx(g, x, W, dxpad, kernel_size, stride, padding, dilation, groups, out):
    B, C = x.shape[:2]
    nd = x.ndim - 2
    O = g.shape[2:]
    P = tuple(n + 2 * padding for n in x.shape[2:])
    Wm = W.reshape(W.shape[0], -1)
    if stride == 1:
        dxp = _col2im_rows(g, Wm, B, C, P, kernel_size, dilation, groups)
    else:
        dc = _dcols(Wm, _gT(g), groups).reshape(C, *(kernel_size,) * nd, B, *O)
        # col2im: add each kernel offset's (C, B, *O) slab where that offset read the input
        dxp = _cb(dxpad, (C, B, *P))
        dxp.fill(0)
        for off in Win.offsets(kernel_size, nd):
            dxp[Win.offset_slice(off, stride, dilation, O)] += dc[(slice(None), *off)]
    r = np.swapaxes(Win.unpad(dxp, padding), 0, 1)
    if out is None:
        return np.ascontiguousarray(r)
    np.copyto(out, r)
    return out


def _col2im_rows(g, Wm, B, C, P, kernel_size, dilation, groups):
    """col2im for stride 1 with whole rows: output positions are laid out on rows as wide as
    the padded input's (the extra columns hold zero gradient), so that each kernel offset's
    slab lands on one contiguous run of every (channel, sample) plane, at a shift of
    (i·Wp + j)·dilation. Returns the padded input's gradient (C, B, *P)."""
    nd = len(P)
    out_ch, O = g.shape[1], g.shape[2:]
    width = P[-1]
    run = math.prod(O[:-1]) * width  # output positions on full-width rows
    g_rows = np.zeros((out_ch, B, *O[:-1], width), g.dtype)
    g_rows[..., : O[-1]] = np.swapaxes(g, 0, 1)
    dc = _dcols(Wm, g_rows.reshape(out_ch, -1), groups)
    dc = dc.reshape(C, kernel_size**nd, B, run)
    plane = math.prod(P)
    reach = (kernel_size - 1) * dilation  # the last offset's rows run past the plane by this
    flat = np.zeros((C, B, plane + reach), g.dtype)
    for q, off in enumerate(Win.offsets(kernel_size, nd)):
        shift = dilation * (off[-1] + (off[0] * width if nd == 2 else 0))
        flat[:, :, shift : shift + run] += dc[:, q]
    return flat[:, :, :plane].reshape(C, B, *P)


# -- export


def _torch(name):
    def rule(x, W, b, stride, padding, dilation, groups):
        bias = b or "None"
        return f"F.{name}({x}, {W}, {bias}, {stride}, {padding}, {dilation}, {groups})"

    return rule


def _onnx(nd):
    def rule(ox, x, W, b, kernel_size, stride, padding, dilation, groups):
        return ox.op(
            "Conv",
            x,
            W,
            *([b] if b else []),
            kernel_shape=[kernel_size] * nd,
            strides=[stride] * nd,
            pads=[padding] * (2 * nd),
            dilations=[dilation] * nd,
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
        ]
    )
    return OpDef(
        name=name,
        label=f"Conv{nd}D",
        category="function",
        doc=f"{nd}-D convolution (cross-correlation, as in PyTorch) of a [channels, {dims}] "
        f"input with out_channels learnt kernels: y_o = b_o + Σ_c W_oc ⋆ x_c.",
        inputs=[("x", f"input [channels, {dims}]")],
        params=conv_params(),
        trainables=[
            Trainable(
                "W",
                _weight_shape(nd),
                "[out_channels, in_channels/groups" + ", kernel_size" * nd + "]",
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
                fan_in=lambda x, kernel_size, groups: x[0] // groups * kernel_size**nd,
            ),
        ],
        scratch={"cols": _cols_shape(nd), "xpad": _pad_shape, "dxpad": _pad_shape},
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

__all__ = ["OPS", "conv_params", "spatial_out"]
