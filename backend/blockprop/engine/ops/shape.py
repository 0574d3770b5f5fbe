"""Reductions and shape changes, per sample (the batch axis is never touched)."""

from __future__ import annotations

import math

import numpy as np

from .. import kernels as K
from ..registry import OpDef, Param, Sample, expect, fmt_shape

AXIS_DOC = "per-sample axis (0 is the first axis after the batch); null: all axes"


def _axis(axis, ndim):
    """Per-sample axis -> axis of the batched array (ndim counts the batch axis)."""
    return axis + 1 if axis >= 0 else ndim + axis


def _reduce_shape(x, axis):
    if axis is None:
        return ()
    expect(-len(x) <= axis < len(x), "x", f"an array with an axis {axis}", x or "a scalar")
    return tuple(d for i, d in enumerate(x) if i != axis % len(x))


def _sum_forward(x, axis, out, scale=1.0):
    if axis is None:
        return K.sum_sample(x, out, scale)
    r = np.sum(x, axis=_axis(axis, x.ndim), out=out)
    if scale != 1.0:
        r *= scale
    return r


def _spread(g, x, axis, out, scale=1.0):
    """Broadcast g back over the reduced axis (the VJP of a sum), times ``scale``."""
    ge = K.per_sample(g, x.ndim) if axis is None else np.expand_dims(g, _axis(axis, x.ndim))
    if out is None:
        out = np.empty(x.shape, g.dtype)
    if scale == 1.0:
        np.copyto(out, ge)
    else:
        np.multiply(ge, scale, out=out)
    return out


def _count(x, axis):
    per_sample = x.shape[1:]
    return math.prod(per_sample) if axis is None else per_sample[axis]


def _concat_shape(a, b, axis):
    expect(len(a) >= 1, "a", "an array with at least one axis", "a scalar")
    expect(len(b) == len(a), "b", f"{len(a)} axes like a {fmt_shape(a)}", b)
    expect(-len(a) <= axis < len(a), "a", f"an array with an axis {axis}", a)
    ax = axis % len(a)
    same = all(i == ax or p == q for i, (p, q) in enumerate(zip(a, b, strict=True)))
    expect(same, "b", f"the shape of a {fmt_shape(a)} except along axis {axis}", b)
    return tuple(p + q if i == ax else p for i, (p, q) in enumerate(zip(a, b, strict=True)))


def _concat_part(g, a, axis, out, first):
    ax = _axis(axis, g.ndim)
    n = a.shape[ax]
    index = [slice(None)] * g.ndim
    index[ax] = slice(0, n) if first else slice(n, None)
    part = g[tuple(index)]
    if out is None:
        return part
    np.copyto(out, part)
    return out


def _reshape_shape(x, shape):
    n = math.prod(x)
    if -1 in shape:
        known = math.prod(d for d in shape if d != -1)
        expect(
            n % known == 0,
            "x",
            f"a multiple of {known} elements to reshape to {fmt_shape(shape)}",
            f"{fmt_shape(x)} ({n} elements)",
        )
        shape = [n // known if d == -1 else d for d in shape]
    expect(
        math.prod(shape) == n,
        "x",
        f"{math.prod(shape)} elements to reshape to {fmt_shape(shape)}",
        f"{fmt_shape(x)} ({n} elements)",
    )
    return tuple(shape)


def _reshape_to(x, out):
    if out is None:
        return x.reshape(x.shape[0], -1).copy()
    np.copyto(out, x.reshape(out.shape))
    return out


def _reshape_forward(x, shape, out):
    if out is None:
        return x.reshape(x.shape[0], *shape).copy()
    np.copyto(out, x.reshape(out.shape))
    return out


def _reshape_back(g, x, out):
    r = g.reshape(x.shape)
    if out is None:
        return r
    np.copyto(out, r)
    return out


# -- export (PyTorch source, ONNX nodes): see registry.check_export


def _sum_torch(pt, x, axis, mean=False):
    if axis is None:
        return pt.sum_sample(x, "x", mean)
    return f"{x}.{'mean' if mean else 'sum'}({pt.dim(axis)})"


def _sum_onnx(ox, x, axis, mean=False):
    if axis is None:
        return ox.sum_sample(x, "x", mean)
    return ox.reduce("ReduceMean" if mean else "ReduceSum", x, [ox.dim(axis)])


def _flatten_torch(pt, x):
    rank = len(pt.shapes["x"])
    return f"{x}.reshape(-1, 1)" if rank == 0 else x if rank == 1 else f"{x}.flatten(1)"


def _reshape_torch(pt, x):
    return f"{x}.reshape({', '.join(['-1', *map(str, pt.out_shape)])})"


OPS = [
    OpDef(
        name="sum",
        label="Sum",
        category="function",
        doc="Sum over one axis of each sample, or over all of it.",
        inputs=[("x", "input")],
        params=[Param("axis", "int", None, nullable=True, doc=AXIS_DOC)],
        shape=_reduce_shape,
        forward=_sum_forward,
        vjp={"x": _spread},
        formula={
            "forward": r"z = \sum_i x_i",
            "backward": r"\frac{\partial C}{\partial x_i} = g"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\textstyle\sum_i {@x}_i",
            "x": r"@g\, \mathbf{1}",
        },
        torch=_sum_torch,
        onnx=_sum_onnx,
        samples=[
            Sample({"x": (3,)}),
            Sample({"x": (2, 3)}, {"axis": 0}),
            Sample({"x": (2, 3)}, {"axis": -1}),
        ],
    ),
    OpDef(
        name="mean",
        label="Mean",
        category="function",
        doc="Mean over one axis of each sample, or over all of it.",
        inputs=[("x", "input")],
        params=[Param("axis", "int", None, nullable=True, doc=AXIS_DOC)],
        shape=_reduce_shape,
        forward=lambda x, axis, out: _sum_forward(x, axis, out, 1.0 / _count(x, axis)),
        vjp={"x": lambda g, x, axis, out: _spread(g, x, axis, out, 1.0 / _count(x, axis))},
        formula={
            "forward": r"z = \frac{1}{n} \sum_i x_i",
            "backward": r"\frac{\partial C}{\partial x_i} = \frac{g}{n}"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\tfrac{1}{n} \textstyle\sum_i {@x}_i",
            "x": r"\tfrac{1}{n}\, @g\, \mathbf{1}",
        },
        torch=lambda pt, x, axis: _sum_torch(pt, x, axis, mean=True),
        onnx=lambda ox, x, axis: _sum_onnx(ox, x, axis, mean=True),
        samples=[Sample({"x": (3,)}), Sample({"x": (2, 3)}, {"axis": 1})],
    ),
    OpDef(
        name="concat",
        label="Concat",
        category="function",
        doc="Joins two inputs along a per-sample axis.",
        inputs=[("a", "first part"), ("b", "second part")],
        params=[Param("axis", "int", -1, doc="per-sample axis to join along")],
        shape=_concat_shape,
        forward=lambda a, b, axis, out: np.concatenate((a, b), axis=_axis(axis, a.ndim), out=out),
        vjp={
            "a": lambda g, a, axis, out: _concat_part(g, a, axis, out, True),
            "b": lambda g, a, axis, out: _concat_part(g, a, axis, out, False),
        },
        formula={
            "forward": r"z = \begin{bmatrix} a \\ b \end{bmatrix}",
            "backward": r"\frac{\partial C}{\partial a} = g_{1:n_a},\quad "
            r"\frac{\partial C}{\partial b} = g_{n_a+1:},\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\begin{bmatrix} @a \\ @b \end{bmatrix}",
            "a": "{@g}_{1:n_a}",
            "b": "{@g}_{n_a+1:}",
        },
        torch=lambda pt, a, b, axis: f"torch.cat(({a}, {b}), dim={pt.dim(axis)})",
        onnx=lambda ox, a, b, axis: ox.op("Concat", a, b, axis=ox.dim(axis)),
        samples=[
            Sample({"a": (2,), "b": (3,)}),
            Sample({"a": (2, 3), "b": (1, 3)}, {"axis": 0}),
        ],
    ),
    OpDef(
        name="flatten",
        label="Flatten",
        category="function",
        doc="Flattens each sample into a vector, like x.view(-1) per sample.",
        inputs=[("x", "input")],
        shape=lambda x: (math.prod(x),),
        forward=_reshape_to,
        vjp={"x": _reshape_back},
        formula={
            "forward": r"z = \operatorname{vec}(x)",
            "backward": r"\frac{\partial C}{\partial x} = \operatorname{vec}^{-1}(g)"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\operatorname{vec}(@x)",
            "x": r"\operatorname{vec}^{-1}(@g)",
        },
        torch=_flatten_torch,
        onnx=lambda ox, x: ox.reshape(x, ox.out_shape),
        samples=[Sample({"x": (2, 3)}), Sample({"x": ()})],
    ),
    OpDef(
        name="reshape",
        label="Reshape",
        category="function",
        doc="Gives each sample a new shape with the same number of elements "
        "(one dimension may be -1).",
        inputs=[("x", "input")],
        params=[
            Param("shape", "shape", None, min=-1, required=True, doc="new per-sample shape"),
        ],
        shape=_reshape_shape,
        forward=_reshape_forward,
        vjp={"x": _reshape_back},
        formula={
            "forward": r"z = \operatorname{reshape}(x)",
            "backward": r"\frac{\partial C}{\partial x} = \operatorname{reshape}^{-1}(g)"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\operatorname{reshape}(@x)",
            "x": r"\operatorname{reshape}^{-1}(@g)",
        },
        torch=_reshape_torch,
        onnx=lambda ox, x: ox.reshape(x, ox.out_shape),
        samples=[
            Sample({"x": (6,)}, {"shape": [2, 3]}),
            Sample({"x": (2, 2)}, {"shape": [-1]}),
        ],
    ),
]
