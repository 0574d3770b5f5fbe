"""Elementwise arithmetic, the Duplicate block, and simple elementwise functions."""

from __future__ import annotations

import numpy as np

from ..registry import OpDef, Sample, expect, fmt_shape, positive

# Binary ops broadcast their per-sample shapes like NumPy. The executor lines up the ranks
# and sums each VJP (returned in the output's shape) down to the input's shape.

BROADCAST_SAMPLES = [
    Sample({"a": (3,), "b": (3,)}),
    Sample({"a": (2, 3), "b": (3,)}),
    Sample({"a": (), "b": (2, 2)}),
    Sample({"a": (2, 1), "b": (1, 3)}),
]


def _broadcast_shape(a, b):
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        expect(False, "b", f"a shape that broadcasts with a's {fmt_shape(a)}", b)


def _same_shape(x):
    return x


def _duplicate(x, out):
    if out is None:
        return x.copy(), x.copy()
    np.copyto(out[0], x)
    np.copyto(out[1], x)
    return out


def _square_vjp(g, x, out):
    r = np.multiply(x, g, out=out)
    r *= 2
    return r


def _binary(name, label, doc, forward, vjp, formula, explain, torch, onnx):
    return OpDef(
        name=name,
        label=label,
        category="function",
        doc=doc + " Shapes broadcast like NumPy, per sample.",
        inputs=[("a", "first operand"), ("b", "second operand")],
        broadcast=True,
        shape=_broadcast_shape,
        forward=forward,
        vjp=vjp,
        formula=formula,
        explain=explain,
        torch=torch,
        onnx=onnx,
        samples=BROADCAST_SAMPLES,
    )


def _unary(name, label, doc, forward, vjp, formula, explain, torch, onnx, samples=None):
    return OpDef(
        name=name,
        label=label,
        category="function",
        doc=doc,
        inputs=[("x", "input")],
        shape=_same_shape,
        forward=forward,
        vjp={"x": vjp},
        formula=formula,
        explain=explain,
        torch=torch,
        onnx=onnx,
        samples=samples or [Sample({"x": (3,)}), Sample({"x": (2, 2)}), Sample({"x": ()})],
    )


OPS = [
    _binary(
        "add",
        "Add",
        "Sum of two inputs: z = a + b.",
        lambda a, b, out: np.add(a, b, out=out),
        {"a": lambda g: g, "b": lambda g: g},
        {
            "forward": r"z = a + b",
            "backward": r"\frac{\partial C}{\partial a} = g,\quad "
            r"\frac{\partial C}{\partial b} = g,\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": "@a + @b",
            "a": "@g",
            "b": "@g",
        },
        torch="{a} + {b}",
        onnx=lambda ox, a, b: ox.op("Add", a, b),
    ),
    _binary(
        "subtract",
        "Subtract",
        "Difference of two inputs: z = a − b.",
        lambda a, b, out: np.subtract(a, b, out=out),
        {"a": lambda g: g, "b": lambda g, out: np.negative(g, out=out)},
        {
            "forward": r"z = a - b",
            "backward": r"\frac{\partial C}{\partial a} = g,\quad "
            r"\frac{\partial C}{\partial b} = -g,\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": "@a - @b",
            "a": "@g",
            "b": "-@g",
        },
        torch="{a} - {b}",
        onnx=lambda ox, a, b: ox.op("Sub", a, b),
    ),
    _binary(
        "multiply",
        "Multiply",
        "Elementwise product: z = a ⊙ b.",
        lambda a, b, out: np.multiply(a, b, out=out),
        {
            "a": lambda g, b, out: np.multiply(g, b, out=out),
            "b": lambda g, a, out: np.multiply(g, a, out=out),
        },
        {
            "forward": r"z = a \odot b",
            "backward": r"\frac{\partial C}{\partial a} = g \odot b,\quad "
            r"\frac{\partial C}{\partial b} = g \odot a,\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"@a \odot @b",
            "a": r"@g \odot @b",
            "b": r"@g \odot @a",
        },
        torch="{a} * {b}",
        onnx=lambda ox, a, b: ox.op("Mul", a, b),
    ),
    _binary(
        "max",
        "Max",
        "Elementwise maximum of two inputs: z = max(a, b); the gradient goes to the larger one "
        "(a tie sends it to the first input, a).",
        lambda a, b, out: np.maximum(a, b, out=out),
        {
            "a": lambda g, a, b, out: np.multiply(g, a >= b, out=out),
            "b": lambda g, a, b, out: np.multiply(g, a < b, out=out),
        },
        {
            "forward": r"z = \max(a, b)",
            "backward": r"\frac{\partial C}{\partial a} = g \odot [a \ge b],\quad "
            r"\frac{\partial C}{\partial b} = g \odot [a < b]"
            r"\ (\text{a tie } a = b \text{ sends } g \text{ to } a)"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\max(@a, @b)",
            "a": r"@g \odot [@a \ge @b]",
            "b": r"@g \odot [@a < @b]",
        },
        # torch.maximum splits the gradient of a tie; the engine gives it to a, like this
        torch="torch.where({a} >= {b}, {a}, {b})",
        onnx=lambda ox, a, b: ox.op("Max", a, b),
    ),
    OpDef(
        name="duplicate",
        label="Duplicate",
        category="function",
        doc="Copies its input to two outputs. The teaching block for fan-out: the "
        "gradients arriving at the two copies are summed.",
        inputs=[("x", "input")],
        outputs=("y1", "y2"),
        shape=lambda x: [x, x],
        forward=_duplicate,
        vjp={"x": lambda g, out: np.add(g[0], g[1], out=out)},
        formula={
            "forward": r"z_1 = x,\quad z_2 = x",
            "backward": r"\frac{\partial C}{\partial x} = g_1 + g_2"
            r",\quad g_i = \frac{\partial C}{\partial z_i}",
        },
        explain={
            "forward": "@x",
            "x": "@g.y1 + @g.y2",
            "symbols": {"ans.y1": "z_1", "ans.y2": "z_2"},
        },
        torch=lambda x: (x, x),  # the exporter gives each copy a tensor of its own
        onnx=lambda x: (x, x),
        samples=[Sample({"x": (3,)}), Sample({"x": ()})],
    ),
    _unary(
        "square",
        "Square",
        "Elementwise square: z = x².",
        lambda x, out: np.square(x, out=out),
        _square_vjp,
        {
            "forward": r"z = x^2",
            "backward": r"\frac{\partial C}{\partial x} = 2\, x\, g"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"@x \odot @x",
            "x": r"2\, @x \odot @g",
        },
        torch="torch.square({x})",
        onnx=lambda ox, x: ox.op("Mul", x, x),
    ),
    _unary(
        "exp",
        "Exp",
        "Elementwise exponential: z = eˣ.",
        lambda x, out: np.exp(x, out=out),
        lambda g, ans, out: np.multiply(g, ans, out=out),
        {
            "forward": r"z = e^{x}",
            "backward": r"\frac{\partial C}{\partial x} = g\, e^{x}"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\exp(@x)",
            "x": r"@g \odot @ans",
        },
        torch="torch.exp({x})",
        onnx=lambda ox, x: ox.op("Exp", x),
    ),
    _unary(
        "log",
        "Log",
        "Elementwise natural logarithm: z = ln x (x > 0).",
        lambda x, out: np.log(x, out=out),
        lambda g, x, out: np.divide(g, x, out=out),
        {
            "forward": r"z = \ln x",
            "backward": r"\frac{\partial C}{\partial x} = g / x"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\ln(@x)",
            "x": r"@g \oslash @x",
        },
        torch="torch.log({x})",
        onnx=lambda ox, x: ox.op("Log", x),
        samples=[Sample({"x": positive(3)}), Sample({"x": positive(2, 2)})],
    ),
]
