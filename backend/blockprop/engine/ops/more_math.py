"""More elementwise functions: GELU, softplus, division, square root, absolute value,
elementwise minimum and clipping."""

from __future__ import annotations

import math

import numpy as np

from ..registry import OpDef, Param, Sample, SampleData, expect, fmt_shape, positive
from .activations import sigmoid

_erf = np.frompyfunc(math.erf, 1, 1)  # NumPy has no erf; math.erf is exact (libm)
SQRT2 = math.sqrt(2.0)
SQRT2PI = math.sqrt(2.0 * math.pi)

SAMPLES = [Sample({"x": (3,)}), Sample({"x": (2, 2)}), Sample({"x": ()})]


def _same(x):
    return x


def _broadcast_shape(a, b):
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        expect(False, "b", f"a shape that broadcasts with a's {fmt_shape(a)}", b)


def _unary(name, label, doc, **kw) -> OpDef:
    kw.setdefault("samples", SAMPLES)
    return OpDef(
        name=name,
        label=label,
        category="function",
        doc=doc,
        inputs=[("x", "input")],
        shape=_same,
        **kw,
    )


def _binary(name, label, doc, samples, **kw) -> OpDef:
    return OpDef(
        name=name,
        label=label,
        category="function",
        doc=doc + " Shapes broadcast like NumPy, per sample.",
        inputs=[("a", "first operand"), ("b", "second operand")],
        broadcast=True,
        shape=_broadcast_shape,
        samples=samples,
        **kw,
    )


# -- GELU (exact, with erf, as torch's default): y = x Φ(x)


def _gelu_forward(x, cdf, out):
    np.copyto(cdf, _erf(x / SQRT2).astype(x.dtype, copy=False))
    cdf += 1.0
    cdf *= 0.5
    return np.multiply(x, cdf, out=out)


def _gelu_vjp(g, x, cdf, out):
    # Φ(x) + x φ(x), φ the standard normal density
    r = np.multiply(x, np.exp(-0.5 * x * x) / SQRT2PI, out=out)
    r += cdf
    r *= g
    return r


def _gelu_onnx(ox, x):
    half = ox.op("Mul", x, ox.const(0.5, "half"))
    erf = ox.op("Erf", ox.op("Div", x, ox.const(SQRT2, "sqrt2")))
    return ox.op("Mul", half, ox.op("Add", erf, ox.const(1.0, "one")))


# -- softplus: y = log(1 + e^x), computed as logaddexp(0, x): never overflows


def _softplus_vjp(g, x, out):
    r = sigmoid(x, out)
    r *= g
    return r


# -- clip


def _clip_shape(x, min, max):
    expect(
        min is None or max is None or min <= max,
        None,
        f"min ({min}) at most max ({max})",
    )
    return x


def _clip_mask(x, min, max):
    """Where the gradient passes: min ≤ x ≤ max (inclusive, as torch.clamp)."""
    keep = np.ones(x.shape, bool)
    if min is not None:
        keep &= x >= min
    if max is not None:
        keep &= x <= max
    return keep


def _clip_onnx(ox, x, min, max):
    lo = ox.const(min, "min") if min is not None else ""
    hi = ox.const(max, "max") if max is not None else ""
    return ox.op("Clip", x, lo, hi)


BROADCAST = [
    Sample({"a": (3,), "b": (3,)}),
    Sample({"a": (2, 3), "b": (3,)}),
    Sample({"a": (), "b": (2, 2)}),
    Sample({"a": (2, 1), "b": (1, 3)}),
]
DIVISOR = [
    Sample({"a": (3,), "b": positive(3)}),
    Sample({"a": (2, 3), "b": positive(3)}),
    Sample({"a": (), "b": SampleData("positive", (2, 2))}),
    Sample({"a": (2, 1), "b": positive(1, 3)}),
]

OPS = [
    _unary(
        "gelu",
        "GELU",
        "Gaussian error linear unit: z = x Φ(x), Φ the standard normal CDF (the exact form, "
        "PyTorch's default).",
        scratch={"cdf": _same},
        forward=_gelu_forward,
        vjp={"x": _gelu_vjp},
        formula={
            "forward": r"z = x\, \Phi(x) = \tfrac{x}{2} \big(1 + \operatorname{erf}"
            r"(x / \sqrt 2)\big)",
            "backward": r"\frac{\partial C}{\partial x} = g \odot \big(\Phi(x) + x\, "
            r"\varphi(x)\big)"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"@x \odot @cdf",
            "x": r"@g \odot \big(@cdf + @x\, \varphi(@x)\big)",
            "symbols": {"cdf": r"\Phi(x)"},
        },
        torch="F.gelu({x})",
        onnx=_gelu_onnx,
    ),
    _unary(
        "softplus",
        "Softplus",
        "A smooth ReLU: z = log(1 + eˣ).",
        forward=lambda x, out: np.logaddexp(0.0, x, out=out),
        vjp={"x": _softplus_vjp},
        formula={
            "forward": r"z = \log(1 + e^{x})",
            "backward": r"\frac{\partial C}{\partial x} = g \odot \sigma(x)"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\log(1 + \exp(@x))",
            "x": r"@g \odot \sigma(@x)",
        },
        torch="F.softplus({x})",
        onnx=lambda ox, x: ox.op("Softplus", x),
    ),
    _binary(
        "divide",
        "Divide",
        "Elementwise quotient: z = a / b.",
        DIVISOR,
        forward=lambda a, b, out: np.divide(a, b, out=out),
        vjp={
            "a": lambda g, b, out: np.divide(g, b, out=out),
            "b": lambda g, ans, b, out: np.negative(np.divide(g * ans, b, out=out), out=out),
        },
        formula={
            "forward": r"z = a \oslash b",
            "backward": r"\frac{\partial C}{\partial a} = g \oslash b,\quad "
            r"\frac{\partial C}{\partial b} = -g \odot z \oslash b"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"@a \oslash @b",
            "a": r"@g \oslash @b",
            "b": r"-@g \odot @ans \oslash @b",
        },
        torch="{a} / {b}",
        onnx=lambda ox, a, b: ox.op("Div", a, b),
    ),
    _binary(
        "minimum",
        "Min",
        "Elementwise minimum of two inputs; the gradient goes to the smaller one (to a on a tie).",
        BROADCAST,
        forward=lambda a, b, out: np.minimum(a, b, out=out),
        vjp={
            "a": lambda g, a, b, out: np.multiply(g, a <= b, out=out),
            "b": lambda g, a, b, out: np.multiply(g, a > b, out=out),
        },
        formula={
            "forward": r"z = \min(a, b)",
            "backward": r"\frac{\partial C}{\partial a} = g \odot [a \le b],\quad "
            r"\frac{\partial C}{\partial b} = g \odot [a > b]"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\min(@a, @b)",
            "a": r"@g \odot [@a \le @b]",
            "b": r"@g \odot [@a > @b]",
        },
        # torch.minimum splits the gradient of a tie; the engine gives it to a, like this
        torch="torch.where({a} <= {b}, {a}, {b})",
        onnx=lambda ox, a, b: ox.op("Min", a, b),
    ),
    _unary(
        "sqrt",
        "Sqrt",
        "Elementwise square root: z = √x (x ≥ 0).",
        forward=lambda x, out: np.sqrt(x, out=out),
        vjp={"x": lambda g, ans, out: np.multiply(np.divide(g, ans, out=out), 0.5, out=out)},
        formula={
            "forward": r"z = \sqrt{x}",
            "backward": r"\frac{\partial C}{\partial x} = \frac{g}{2 \sqrt{x}}"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\sqrt{@x}",
            "x": r"@g \oslash (2\, @ans)",
        },
        torch="torch.sqrt({x})",
        onnx=lambda ox, x: ox.op("Sqrt", x),
        samples=[Sample({"x": positive(3)}), Sample({"x": positive(2, 2)})],
    ),
    _unary(
        "abs",
        "Abs",
        "Elementwise absolute value: z = |x| (gradient 0 at 0, as in PyTorch).",
        forward=lambda x, out: np.abs(x, out=out),
        vjp={"x": lambda g, x, out: np.multiply(g, np.sign(x), out=out)},
        formula={
            "forward": r"z = |x|",
            "backward": r"\frac{\partial C}{\partial x} = g \odot \operatorname{sign}(x)"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"|@x|",
            "x": r"@g \odot \operatorname{sign}(@x)",
        },
        torch="torch.abs({x})",
        onnx=lambda ox, x: ox.op("Abs", x),
    ),
    OpDef(
        name="clip",
        label="Clip",
        category="function",
        doc="Clamps each value into [min, max] (either bound may be left out); the gradient "
        "passes where the value was inside.",
        inputs=[("x", "input")],
        params=[
            Param("min", "float", None, nullable=True, doc="lower bound (null: none)"),
            Param("max", "float", None, nullable=True, doc="upper bound (null: none)"),
        ],
        shape=_clip_shape,
        forward=lambda x, min, max, out: np.clip(x, min, max, out=out),
        vjp={"x": lambda g, x, min, max, out: np.multiply(g, _clip_mask(x, min, max), out=out)},
        formula={
            "forward": r"z = \min(\max(x, a), b)",
            "backward": r"\frac{\partial C}{\partial x} = g \odot [a \le x \le b]"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            # a bound left out (null) drops out of the formula
            "forward": r"\operatorname{clip}(@x@[,\ \ge @min@]@[,\ \le @max@])",
            "x": r"@g \odot [@[@min \le @]@x@[ \le @max@]]",
            "symbols": {"min": "a", "max": "b"},
        },
        torch="torch.clamp({x}, {min}, {max})",
        onnx=_clip_onnx,
        samples=[
            Sample({"x": (4,)}, {"min": -0.5, "max": 0.5}),
            Sample({"x": (2, 3)}, {"min": 0.1}),
            Sample({"x": (3,)}, {"max": -0.2}),
        ],
    ),
]
