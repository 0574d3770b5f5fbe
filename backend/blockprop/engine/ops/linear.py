"""Linear algebra: weighted sums, matrix products, distances to prototypes."""

from __future__ import annotations

import numpy as np

from .. import kernels as K
from ..registry import INIT_CHOICES, OpDef, Param, Sample, Trainable, expect, fmt_shape

# -- linear: y = W x + b, W shaped (out, in) like torch; x may be a stack (..., in)


def _linear_shape(x, out_features):
    expect(len(x) >= 1, "x", "a vector of features", x or "a scalar")
    return (*x[:-1], out_features)


# np.dot has less overhead than np.matmul for plain (batch, features) matrices


def _linear_forward(x, W, out, b=None):
    y = np.dot(x, W.T, out=out) if x.ndim == 2 else np.matmul(x, W.T, out=out)
    if b is not None:
        np.add(y, b, out=y)
    return y


def _linear_dx(g, W, out):
    return np.dot(g, W, out=out) if g.ndim == 2 else np.matmul(g, W, out=out)


def _linear_dW(g, x, out):
    if g.ndim > 2:
        g, x = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
    return np.dot(g.T, x, out=out)


def _linear_db(g, ones, out):
    return np.dot(ones, g, out=out) if g.ndim == 2 else K.sum_leading(g, out)


# -- matmul: per-sample product of a vector or matrix with a vector or matrix


def _matmul_shape(a, b):
    expect(len(a) in (1, 2), "a", "a vector or a matrix", a or "a scalar")
    expect(len(b) in (1, 2), "b", "a vector or a matrix", b or "a scalar")
    expect(a[-1] == b[0], "b", f"{a[-1]} rows, to match the last dimension of a {fmt_shape(a)}", b)
    return a[:-1] + b[1:]


def _as3(a, b):
    """Views with explicit matrix axes: a -> (B, m, n), b -> (B, n, p)."""
    return (a[:, None, :] if a.ndim == 2 else a), (b[:, :, None] if b.ndim == 2 else b)


def _mm(A, Bm, out3):
    if Bm.strides[0] == 0 and A.strides[0] != 0:  # b is shared (a parameter): one big product
        r = K.matmul(A.reshape(-1, A.shape[-1]), Bm[0])
        if out3 is None:
            return r.reshape(A.shape[0], A.shape[1], Bm.shape[2])
        out3[...] = r.reshape(out3.shape)
        return out3
    return np.matmul(A, Bm, out=out3)


def _matmul_forward(a, b, scale, out):
    A, Bm = _as3(a, b)
    out3 = None if out is None else out.reshape(A.shape[0], A.shape[1], Bm.shape[2])
    r = _mm(A, Bm, out3)
    if scale is not None:
        r *= scale
    return r.reshape(a.shape[:-1] + b.shape[2:]) if out is None else out


def _matmul_da(g, a, b, scale, out):
    if scale is not None:
        g = g * scale
    A, Bm = _as3(a, b)
    g3 = g.reshape(A.shape[0], A.shape[1], Bm.shape[2])
    r = np.matmul(g3, Bm.transpose(0, 2, 1), out=None if out is None else out.reshape(A.shape))
    return r.reshape(a.shape) if out is None else out


def _matmul_db(g, a, b, scale, out):
    if scale is not None:
        g = g * scale
    A, Bm = _as3(a, b)
    g3 = g.reshape(A.shape[0], A.shape[1], Bm.shape[2])
    r = np.matmul(A.transpose(0, 2, 1), g3, out=None if out is None else out.reshape(Bm.shape))
    return r.reshape(b.shape) if out is None else out


# -- sq_distance: y_j = ||x - P_j||^2 for each row P_j of a trainable matrix


def _sqd_shape(x, rows):
    expect(len(x) == 1, "x", "a vector", x or "a scalar")
    return (rows,)


def _sqd_forward(x, P, out):
    d = x[:, None, :] - P[None, :, :]
    return np.einsum("bkn,bkn->bk", d, d, out=out)


def _sqd_dx(g, x, P, out):
    # 2 sum_j g_j (x - P_j) = 2 (x sum_j g_j - g P)
    r = K.matmul(g, P, out)
    np.subtract(x * K.sum_sample(g)[:, None], r, out=r)
    r *= 2
    return r


def _sqd_dP(g, x, P, out):
    # -2 sum_b g_bj (x_b - P_j) = 2 (colsum(g)_j P_j - g^T x)
    r = K.matmul(g.T, x, out)
    np.subtract(K.sum_leading(g)[:, None] * P, r, out=r)
    r *= 2
    return r


# -- argmin: index of the smallest entry (forward only)


def _argmin_shape(x):
    expect(len(x) == 1, "x", "a vector", x or "a scalar")
    return ()


# -- export (PyTorch source, ONNX nodes): see registry.check_export


def _linear_torch(x, W, b):
    return f"F.linear({x}, {W}, {b})" if b else f"F.linear({x}, {W})"


def _linear_onnx(ox, x, W, b):
    if len(ox.shapes["x"]) == 1:  # (batch, in): one Gemm, x W^T + b
        return ox.op("Gemm", x, W, *([b] if b else []), transB=1)
    y = ox.op("MatMul", x, ox.op("Transpose", W, perm=[1, 0]))
    return ox.op("Add", y, b) if b else y


def _matmul_equation(shapes):
    """The einsum of the per-sample product, batch axis first: "bmn,bnp->bmp", "bn,bn->b"..."""
    a = "mn" if len(shapes["a"]) == 2 else "n"
    b = "np" if len(shapes["b"]) == 2 else "n"
    return f"b{a},b{b}->b{a[:-1]}{b[1:]}"


def _matmul_torch(pt, a, b, scale):
    y = f'torch.einsum("{_matmul_equation(pt.shapes)}", {a}, {b})'
    return y if scale is None else f"{y} * {scale!r}"


def _matmul_onnx(ox, a, b, scale):
    y = ox.op("Einsum", a, b, equation=_matmul_equation(ox.shapes))
    return y if scale is None else ox.op("Mul", y, ox.const(scale, "scale"))


def _sqd_onnx(ox, x, P):
    d = ox.op("Sub", ox.op("Unsqueeze", x, ox.ints([1])), P)
    return ox.reduce("ReduceSum", ox.op("Mul", d, d), [-1])


OPS = [
    OpDef(
        name="linear",
        label="Linear",
        category="function",
        doc="Weighted sum plus bias: z = W x + b, with W shaped out × in. Applies to the "
        "last axis of x.",
        inputs=[("x", "input features (…, in)")],
        params=[
            Param("out_features", "int", None, min=1, required=True, doc="number of outputs"),
            Param("bias", "bool", True, doc="add a trainable bias b"),
            Param("init", "str", "xavier", choices=INIT_CHOICES, doc="initialiser of W"),
        ],
        trainables=[
            Trainable(
                "W",
                lambda x, out_features: (out_features, x[-1]),
                "[out_features, in_features]",
                init=lambda init: init,
                doc="weights",
                regularize=True,
            ),
            Trainable(
                "b",
                lambda out_features: (out_features,),
                "[out_features]",
                init="zeros",
                when=lambda bias: bias,
                doc="bias",
            ),
        ],
        shape=_linear_shape,
        forward=_linear_forward,
        vjp={
            "x": _linear_dx,
            "W": _linear_dW,
            "b": _linear_db,
        },
        torch=_linear_torch,
        onnx=_linear_onnx,
        formula={
            "forward": r"z = W x + b",
            "backward": r"\frac{\partial C}{\partial x} = W^\top g,\quad "
            r"\frac{\partial C}{\partial W} = g\, x^\top,\quad \frac{\partial C}{\partial b} = g"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"@W\, @x@[ + @b@]",
            "x": r"@W^\top @g",
            "W": r"@g\, @x^\top",
            "b": "@g",
        },
        samples=[
            Sample({"x": (3,)}, {"out_features": 2}),
            Sample({"x": (1,)}, {"out_features": 1, "bias": False}),
            Sample({"x": (2, 3)}, {"out_features": 4, "init": "he"}),
        ],
    ),
    OpDef(
        name="matmul",
        label="MatMul",
        category="function",
        doc="Matrix product a b of two per-sample vectors or matrices (a: [m, n] or [n]; "
        "b: [n, p] or [n]), optionally times a scale s (1/√d in scaled dot-product "
        "attention).",
        inputs=[("a", "left factor"), ("b", "right factor")],
        params=[
            Param(
                "scale",
                "float",
                None,
                nullable=True,
                doc="multiply the product by this (e.g. 1/√d for attention); null: 1",
            )
        ],
        shape=_matmul_shape,
        forward=_matmul_forward,
        vjp={"a": _matmul_da, "b": _matmul_db},
        torch=_matmul_torch,
        onnx=_matmul_onnx,
        formula={
            "forward": r"z = s\, a\, b",
            "backward": r"\frac{\partial C}{\partial a} = s\, g\, b^\top,\quad "
            r"\frac{\partial C}{\partial b} = s\, a^\top g,\quad "
            r"g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"@[@scale\, @]@a\, @b",
            "a": r"@[@scale\, @]@g\, @b^\top",
            "b": r"@[@scale\, @]@a^\top @g",
            "symbols": {"scale": "s"},
        },
        samples=[
            Sample({"a": (2, 3), "b": (3, 4)}),
            Sample({"a": (3,), "b": (3, 2)}),
            Sample({"a": (2, 3), "b": (3,)}),
            Sample({"a": (3,), "b": (3,)}),
            Sample({"a": (4, 3), "b": (3, 4)}, {"scale": 0.5}),
        ],
    ),
    OpDef(
        name="sq_distance",
        label="Squared distance",
        category="function",
        doc="Squared Euclidean distance from x to each row P_j of a trainable matrix of "
        "prototypes: z_j = ‖x − P_j‖² (nearest-neighbour and RBF models).",
        inputs=[("x", "a vector")],
        params=[
            Param("rows", "int", None, min=1, required=True, doc="number of prototypes"),
            Param("init", "str", "uniform", choices=INIT_CHOICES, doc="initialiser of P"),
        ],
        trainables=[
            Trainable(
                "P",
                lambda x, rows: (rows, x[0]),
                "[rows, in_features]",
                init=lambda init: init,
                doc="prototypes, one per row",
            )
        ],
        shape=_sqd_shape,
        forward=_sqd_forward,
        vjp={"x": _sqd_dx, "P": _sqd_dP},
        torch="(({x}[:, None, :] - {P}) ** 2).sum(-1)",
        onnx=_sqd_onnx,
        formula={
            "forward": r"z_j = \lVert x - P_j \rVert^2",
            "backward": r"\frac{\partial C}{\partial x} = 2 \sum_j g_j (x - P_j),\quad "
            r"\frac{\partial C}{\partial P_j} = -2\, g_j (x - P_j)"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\big(\lVert @x - {@P}_j \rVert^2\big)_j",
            "x": r"2 \textstyle\sum_j {@g}_j\, (@x - {@P}_j)",
            "P": r"-2\, {@g}_j\, (@x - {@P}_j)",
        },
        samples=[Sample({"x": (3,)}, {"rows": 4}), Sample({"x": (1,)}, {"rows": 1})],
    ),
    OpDef(
        name="argmin",
        label="ArgMin",
        category="function",
        doc="Index of the smallest entry of x, as an integer label (e.g. the nearest "
        "prototype). Piecewise constant: it passes no gradient.",
        inputs=[("x", "a vector")],
        differentiable=False,
        dtype="int",
        shape=_argmin_shape,
        forward=lambda x, out: np.argmin(x, axis=-1, out=out),
        torch="torch.argmin({x}, dim=-1)",
        onnx=lambda ox, x: ox.op("ArgMin", x, axis=-1, keepdims=0),
        formula={
            "forward": r"z = \arg\min_j x_j",
            "backward": r"\text{none: } z \text{ is piecewise constant}",
        },
        explain={
            "forward": r"\arg\min_j {@x}_j",
        },
        samples=[Sample({"x": (4,)}), Sample({"x": (1,)})],
    ),
]
