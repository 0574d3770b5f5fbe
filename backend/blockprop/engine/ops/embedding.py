"""Embedding: integer ids looked up as rows of a trainable table."""

from __future__ import annotations

import numpy as np

from ..registry import OpDef, Param, Sample, SampleData, Trainable


def _forward(x, E, out):
    return np.take(E, x, axis=0, out=out)  # an id out of range raises IndexError: bad_feed


def _dE(g, x, E, out):
    # rows looked up several times receive the sum of their gradients
    if out is None:
        out = np.empty(E.shape, g.dtype)
    out.fill(0)
    np.add.at(out, x.reshape(-1), g.reshape(-1, E.shape[1]))
    return out


OPS = [
    OpDef(
        name="embedding",
        label="Embedding",
        category="function",
        doc="Looks each integer id of x up as a row of a trainable table E: z = E[x] (one "
        "vector per id; ids from 0 to num_embeddings − 1).",
        inputs=[("x", "integer ids", "int")],
        params=[
            Param("num_embeddings", "int", None, min=1, required=True, doc="number of ids"),
            Param("dim", "int", None, min=1, required=True, doc="length of each vector"),
        ],
        trainables=[
            Trainable(
                "E",
                lambda num_embeddings, dim: (num_embeddings, dim),
                "[num_embeddings, dim]",
                init="normal",
                doc="the table, one row per id (N(0, 1), PyTorch's default)",
            )
        ],
        shape=lambda x, dim: (*x, dim),
        forward=_forward,
        vjp={"E": _dE},
        torch="F.embedding({x}, {E})",
        onnx=lambda ox, x, E: ox.op("Gather", E, x, axis=0),
        formula={
            "forward": r"z = E_{x}",
            "backward": r"\frac{\partial C}{\partial E_i} = \sum_{t:\, x_t = i} g_t"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": "{@E}_{@x}",
            "E": r"\textstyle\sum_{t:\, {@x}_t = i} {@g}_t",
        },
        samples=[
            Sample({"x": SampleData("labels", (), 5)}, {"num_embeddings": 5, "dim": 3}),
            Sample({"x": SampleData("labels", (4,), 6)}, {"num_embeddings": 6, "dim": 2}),
        ],
    ),
]
