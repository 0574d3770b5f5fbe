"""Activation functions (elementwise and softmax over the last axis) and dropout."""

from __future__ import annotations

import numpy as np

from ..registry import OpDef, Param, Sample, expect

SAMPLES = [Sample({"x": (3,)}), Sample({"x": (2, 3)}), Sample({"x": ()})]
VECTOR_SAMPLES = [Sample({"x": (4,)}), Sample({"x": (2, 3)}), Sample({"x": (1,)})]


def _same(x):
    return x


def _vector(x):
    expect(len(x) >= 1, "x", "a vector (softmax runs over the last axis)", "a scalar")
    return x


def _relu_vjp(g, ans, out):
    return np.multiply(g, ans > 0, out=out)


def _leaky_forward(x, slope, out):
    return np.maximum(x, x * slope, out=out)  # slope <= 1


def _leaky_vjp(g, x, slope, out):
    return np.multiply(g, np.where(x > 0, 1.0, slope), out=out)


def _tanh_vjp(g, ans, out):
    r = np.multiply(ans, ans, out=out)
    np.subtract(1.0, r, out=r)
    return np.multiply(r, g, out=r)


def sigmoid(x, out=None):
    # sigma(x) = (1 + tanh(x / 2)) / 2: never overflows, unlike 1 / (1 + exp(-x))
    r = np.multiply(x, 0.5, out=out)
    np.tanh(r, out=r)
    r *= 0.5
    r += 0.5
    return r


def _sigmoid_vjp(g, ans, out):
    r = np.subtract(1.0, ans, out=out)
    r *= ans
    return np.multiply(r, g, out=r)


def log_softmax(x, out=None):
    """Stable log-softmax over the last axis: x - max - log(sum(exp(x - max)))."""
    r = np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
    r -= np.log(np.exp(r).sum(axis=-1, keepdims=True))
    return r


def _causal_shape(x, causal):
    _vector(x)
    if causal:
        expect(len(x) >= 2, "x", "a [queries, keys] matrix of scores for a causal mask", x)
    return x


def future(shape) -> np.ndarray:
    """The causal mask of a [queries, keys] matrix: True where key j comes after query i."""
    return np.triu(np.ones(shape[-2:], bool), 1)


def _softmax_forward(x, causal, out):
    if causal:  # masked scores weigh exp(-inf) = 0; each row keeps its diagonal
        x = np.where(future(x.shape), -np.inf, x)
    r = np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
    np.exp(r, out=r)
    r /= r.sum(axis=-1, keepdims=True)
    return r


def _softmax_vjp(g, ans, out):
    # J^T g = y * (g - <g, y>)
    r = np.multiply(g, ans, out=out)
    s = r.sum(axis=-1, keepdims=True)
    np.subtract(g, s, out=r)
    r *= ans
    return r


def _log_softmax_vjp(g, ans, out):
    # g - softmax * sum(g)
    r = np.exp(ans, out=out)
    r *= g.sum(axis=-1, keepdims=True)
    return np.subtract(g, r, out=r)


def _dropout_forward(x, mask, p, training, rng, out):
    if training and p > 0:
        rng = rng if rng is not None else np.random.default_rng()
        rng.random(dtype=mask.dtype, out=mask)
        np.greater_equal(mask, p, out=mask)  # keep with probability 1 - p
        mask *= 1.0 / (1.0 - p)  # inverted dropout: the expectation is unchanged
    else:
        mask.fill(1.0)
    return np.multiply(x, mask, out=out)


def _softmax_torch(pt, x, causal):
    if not causal:
        return f"torch.softmax({x}, dim=-1)"
    q, k = pt.shapes["x"][-2:]
    mask = f"torch.ones({q}, {k}, dtype=torch.bool, device={x}.device).triu(1)"
    return f"torch.softmax({x}.masked_fill({mask}, -torch.inf), dim=-1)"


def _softmax_onnx(ox, x, causal):
    if causal:
        x = ox.op("Add", x, ox.const(np.where(future(ox.shapes["x"]), -np.inf, 0.0), "mask"))
    return ox.op("Softmax", x, axis=-1)


OPS = [
    OpDef(
        name="relu",
        label="ReLU",
        category="function",
        doc="Rectified linear unit: z = max(0, x); ReLU′(0) = 0.",
        inputs=[("x", "input")],
        shape=_same,
        forward=lambda x, out: np.maximum(x, 0, out=out),
        vjp={"x": _relu_vjp},
        formula={
            "forward": r"z = \max(0, x)",
            "backward": r"\frac{\partial C}{\partial x} = g \odot [x > 0]"
            r"\ (\mathrm{ReLU}^\prime(0) = 0)"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\max(0, @x)",
            "x": r"@g \odot [@x > 0]",
        },
        torch="torch.relu({x})",
        onnx=lambda ox, x: ox.op("Relu", x),
        samples=SAMPLES,
    ),
    OpDef(
        name="leaky_relu",
        label="Leaky ReLU",
        category="function",
        doc="Leaky ReLU: z = x for x > 0, slope · x otherwise (the slope at 0 too).",
        inputs=[("x", "input")],
        params=[Param("slope", "float", 0.01, min=0.0, max=1.0, doc="slope for x < 0")],
        shape=_same,
        forward=_leaky_forward,
        vjp={"x": _leaky_vjp},
        formula={
            "forward": r"z = \begin{cases} x & x > 0 \\ \alpha x & x \le 0 \end{cases}",
            "backward": r"\frac{\partial C}{\partial x} = g \odot "
            r"\begin{cases} 1 & x > 0 \\ \alpha & x \le 0 \end{cases}"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\max(@x,\ @slope\, @x)",
            "x": r"@g \odot \begin{cases} 1 & @x > 0 \\ @slope & \text{otherwise} \end{cases}",
            "symbols": {"slope": r"\alpha"},
        },
        torch="F.leaky_relu({x}, {slope})",
        onnx=lambda ox, x, slope: ox.op("LeakyRelu", x, alpha=slope),
        samples=[*SAMPLES, Sample({"x": (4,)}, {"slope": 0.2})],
    ),
    OpDef(
        name="tanh",
        label="Tanh",
        category="function",
        doc="Hyperbolic tangent, a squashing function onto (−1, 1).",
        inputs=[("x", "input")],
        shape=_same,
        forward=lambda x, out: np.tanh(x, out=out),
        vjp={"x": _tanh_vjp},
        formula={
            "forward": r"z = \tanh x",
            "backward": r"\frac{\partial C}{\partial x} = g \odot (1 - z^2)"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\tanh(@x)",
            "x": r"@g \odot (1 - @ans \odot @ans)",
        },
        torch="torch.tanh({x})",
        onnx=lambda ox, x: ox.op("Tanh", x),
        samples=SAMPLES,
    ),
    OpDef(
        name="sigmoid",
        label="Sigmoid",
        category="function",
        doc="Logistic sigmoid, a squashing function onto (0, 1).",
        inputs=[("x", "input")],
        shape=_same,
        forward=sigmoid,
        vjp={"x": _sigmoid_vjp},
        formula={
            "forward": r"z = \sigma(x) = \frac{1}{1 + e^{-x}}",
            "backward": r"\frac{\partial C}{\partial x} = g \odot z \odot (1 - z)"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\sigma(@x)",
            "x": r"@g \odot @ans \odot (1 - @ans)",
        },
        torch="torch.sigmoid({x})",
        onnx=lambda ox, x: ox.op("Sigmoid", x),
        samples=SAMPLES,
    ),
    OpDef(
        name="softmax",
        label="Softmax",
        category="function",
        doc="Softmax over the last axis: positive outputs that sum to 1. With causal, "
        "entry (i, j) of a [queries, keys] matrix of scores is left out for j > i "
        "(attention to the past only).",
        inputs=[("x", "scores")],
        params=[
            Param(
                "causal",
                "bool",
                False,
                doc="mask scores (i, j) with j > i over the last two axes (output 0 there)",
            )
        ],
        shape=_causal_shape,
        forward=_softmax_forward,
        vjp={"x": _softmax_vjp},
        formula={
            "forward": r"z_i = \frac{e^{x_i}}{\sum_j e^{x_j}}",
            "backward": r"\frac{\partial C}{\partial x} = z \odot (g - \langle g, z \rangle)"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"\mathrm{softmax}(@x)",
            "x": r"@ans \odot (@g - \langle @g, @ans \rangle)",
        },
        torch=_softmax_torch,
        onnx=_softmax_onnx,
        samples=[
            *VECTOR_SAMPLES,
            Sample({"x": (3, 3)}, {"causal": True}),
            Sample({"x": (2, 3, 4)}, {"causal": True}),
        ],
    ),
    OpDef(
        name="log_softmax",
        label="Log-softmax",
        category="function",
        doc="Logarithm of the softmax over the last axis, computed stably.",
        inputs=[("x", "scores")],
        shape=_vector,
        forward=lambda x, out: log_softmax(x, out),
        vjp={"x": _log_softmax_vjp},
        formula={
            "forward": r"z_i = x_i - \log \sum_j e^{x_j}",
            "backward": r"\frac{\partial C}{\partial x} = g - \mathrm{softmax}(x) \sum_i g_i"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"@x - \log \textstyle\sum_j \exp({@x}_j)",
            "x": r"@g - \exp(@ans) \textstyle\sum_i {@g}_i",
        },
        torch="torch.log_softmax({x}, dim=-1)",
        onnx=lambda ox, x: ox.op("LogSoftmax", x, axis=-1),
        samples=VECTOR_SAMPLES,
    ),
    OpDef(
        name="dropout",
        label="Dropout",
        category="function",
        doc="While training, zeroes each value with probability p and scales the rest by "
        "1/(1−p); the identity otherwise.",
        inputs=[("x", "input")],
        params=[Param("p", "float", 0.5, min=0.0, max=0.95, doc="probability of dropping")],
        rate_param="p",
        scratch={"mask": lambda x: x},
        shape=_same,
        forward=_dropout_forward,
        vjp={"x": lambda g, mask, out: np.multiply(g, mask, out=out)},
        formula={
            "forward": r"z = \frac{m \odot x}{1 - p},\ m_i \sim \mathrm{Bernoulli}(1 - p)",
            "backward": r"\frac{\partial C}{\partial x} = \frac{m \odot g}{1 - p}"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"@mask \odot @x",
            "x": r"@mask \odot @g",
            "symbols": {"mask": "m"},
        },
        # active in train() mode like the engine's training steps; the identity in eval()
        torch="F.dropout({x}, {p}, self.training)",
        onnx=lambda x: x,  # an inference graph: the identity
        samples=[Sample({"x": (4,)}, {"p": 0.3}), Sample({"x": (2, 2)})],
    ),
]
