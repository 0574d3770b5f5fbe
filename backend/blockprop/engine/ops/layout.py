"""Layout changes of each sample: swapping two axes, taking a slice along one axis."""

from __future__ import annotations

import numpy as np

from ..registry import OpDef, Param, Sample, expect

AXIS_DOC = "per-sample axis (0 is the first axis after the batch; negative from the end)"


def _axis(axis: int, ndim: int) -> int:
    """Per-sample axis -> axis of the batched array (ndim counts the batch axis)."""
    return axis + 1 if axis >= 0 else ndim + axis


def _check_axis(x, axis, name):
    expect(-len(x) <= axis < len(x), "x", f"an array with an axis {axis} ({name})", x or "a scalar")


# -- transpose


def _transpose_shape(x, dim0, dim1):
    _check_axis(x, dim0, "dim0")
    _check_axis(x, dim1, "dim1")
    out = list(x)
    out[dim0], out[dim1] = out[dim1], out[dim0]
    return tuple(out)


def _swapped(a, dim0, dim1, out):
    r = np.swapaxes(a, _axis(dim0, a.ndim), _axis(dim1, a.ndim))
    if out is None:
        return r.copy()
    np.copyto(out, r)
    return out


def _transpose_onnx(ox, x, dim0, dim1):
    perm = list(range(len(ox.shapes["x"]) + 1))
    i, j = _axis(dim0, len(perm)), _axis(dim1, len(perm))
    perm[i], perm[j] = perm[j], perm[i]
    return ox.op("Transpose", x, perm=perm)


# -- slice


def _range(n, start, stop, step) -> range:
    return range(n)[slice(start, stop, step)]


def _slice_shape(x, axis, start, stop, step):
    _check_axis(x, axis, "axis")
    n = x[axis]
    kept = _range(n, start, stop, step)
    expect(
        len(kept) >= 1,
        "x",
        f"at least one element in [{start}:{stop}:{step}] along axis {axis}",
        x,
    )
    out = list(x)
    out[axis] = len(kept)
    return tuple(out)


def _index(ndim, axis, start, stop, step, n):
    r = _range(n, start, stop, step)
    index = [slice(None)] * ndim
    index[_axis(axis, ndim)] = slice(r.start, r.stop, r.step)
    return tuple(index)


def _slice_forward(x, axis, start, stop, step, out):
    part = x[_index(x.ndim, axis, start, stop, step, x.shape[_axis(axis, x.ndim)])]
    if out is None:
        return part.copy()
    np.copyto(out, part)
    return out


def _slice_vjp(g, x, axis, start, stop, step, out):
    if out is None:
        out = np.empty(x.shape, g.dtype)
    out.fill(0)
    out[_index(x.ndim, axis, start, stop, step, x.shape[_axis(axis, x.ndim)])] = g
    return out


def _slice_torch(pt, x, axis, start, stop, step):
    rank = len(pt.shapes["x"]) + 1
    ax = _axis(axis, rank)
    r = _range(pt.shapes["x"][ax - 1], start, stop, step)
    return f"{x}[{', '.join([':'] * ax + [f'{r.start}:{r.stop}:{r.step}'])}]"


def _slice_onnx(ox, x, axis, start, stop, step):
    rank = len(ox.shapes["x"]) + 1
    ax = _axis(axis, rank)
    r = _range(ox.shapes["x"][ax - 1], start, stop, step)
    ints = ox.ints
    return ox.op("Slice", x, ints([r.start]), ints([r.stop]), ints([ax]), ints([r.step]))


OPS = [
    OpDef(
        name="transpose",
        label="Transpose",
        category="function",
        doc="Swaps two axes of each sample (by default the last two: a matrix's transpose).",
        inputs=[("x", "input")],
        params=[
            Param("dim0", "int", -2, doc=AXIS_DOC),
            Param("dim1", "int", -1, doc=AXIS_DOC),
        ],
        shape=_transpose_shape,
        forward=lambda x, dim0, dim1, out: _swapped(x, dim0, dim1, out),
        vjp={"x": lambda g, dim0, dim1, out: _swapped(g, dim0, dim1, out)},
        torch=lambda pt, x, dim0, dim1: f"{x}.transpose({pt.dim(dim0)}, {pt.dim(dim1)})",
        onnx=_transpose_onnx,
        formula={
            "forward": r"z = x^\top",
            "backward": r"\frac{\partial C}{\partial x} = g^\top"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"@x^\top",
            "x": r"@g^\top",
        },
        samples=[
            Sample({"x": (2, 3)}),
            Sample({"x": (2, 3, 4)}, {"dim0": 0, "dim1": 2}),
            Sample({"x": (3, 2)}, {"dim0": 1, "dim1": 1}),
        ],
    ),
    OpDef(
        name="slice",
        label="Slice",
        category="function",
        doc="Takes x[start:stop:step] along one per-sample axis (Python's rules: negative "
        "indices count from the end; stop null means to the end).",
        inputs=[("x", "input")],
        params=[
            Param("axis", "int", -1, doc=AXIS_DOC),
            Param("start", "int", 0, doc="first index"),
            Param("stop", "int", None, nullable=True, doc="index to stop before (null: end)"),
            Param("step", "int", 1, min=1, doc="step between indices"),
        ],
        shape=_slice_shape,
        forward=_slice_forward,
        vjp={"x": _slice_vjp},
        torch=_slice_torch,
        onnx=_slice_onnx,
        formula={
            "forward": r"z = x_{\text{start}:\text{stop}:\text{step}}",
            "backward": r"\frac{\partial C}{\partial x} = g \text{ in the slice, } 0 "
            r"\text{ elsewhere}"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"{@x}_{@start:@[@stop@]:@step}",
            "x": r"@g \text{ placed back in the slice}",
        },
        samples=[
            Sample({"x": (5,)}, {"start": 1, "stop": 4}),
            Sample({"x": (3, 4)}, {"axis": 0, "start": -2}),
            Sample({"x": (2, 6)}, {"start": 0, "step": 2}),
        ],
    ),
]
