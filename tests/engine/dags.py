"""A Hypothesis strategy for random DAGs of blocks, shared by the gradcheck and torch tests.

Graphs have one or two inputs of width ``w``, a few function nodes (fan-out: any earlier
value may feed any later node; Duplicate; Add; Max; Linear; activations...) and one to
three costs on random values. Shapes stay (w,) so any value can feed any port.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from blockprop.engine import compile_graph

from .graphs import doc, node

UNARY = ["tanh", "sigmoid", "relu", "leaky_relu", "square", "exp"]
BINARY = ["add", "subtract", "multiply", "max"]
FUNCTIONS = [*UNARY, *BINARY, "duplicate", "linear", "linear"]
COSTS = ["squared_error", "mse", "cross_entropy", "binary_cross_entropy", "l1"]
KINKS = {"relu": 1e-4, "leaky_relu": 1e-4, "l1": 1e-4}  # stay this far from a kink


@st.composite
def dags(draw, max_functions=8):
    width = draw(st.integers(1, 4))
    n_inputs = draw(st.integers(1, 2))
    nodes = [node(f"x{i}", "input", shape=[width]) for i in range(n_inputs)]
    values = [f"x{i}" for i in range(n_inputs)]

    def pick():
        return draw(st.sampled_from(values))

    for j in range(draw(st.integers(1, max_functions))):
        op, nid = draw(st.sampled_from(FUNCTIONS)), f"n{j}"
        if op == "duplicate":
            nodes.append(node(nid, op, {"x": pick()}))
            values += [f"{nid}:y1", f"{nid}:y2"]
            continue
        if op in BINARY:
            nodes.append(node(nid, op, {"a": pick(), "b": pick()}))
        elif op == "linear":
            nodes.append(node(nid, op, {"x": pick()}, out_features=width, bias=draw(st.booleans())))
        elif op == "exp":  # keep values tame: exp of a squashed value
            sq = f"{nid}s"
            nodes.append(node(sq, "tanh", {"x": pick()}))
            nodes.append(node(nid, op, {"x": sq}))
        else:
            nodes.append(node(nid, op, {"x": pick()}))
        values.append(nid)
    targets = {}
    for c in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(COSTS))
        src = draw(st.sampled_from(values[n_inputs:] or values))
        t = f"t{c}"
        if op == "cross_entropy":
            nodes.append(node(t, "target", shape=[], dtype="int"))
            nodes.append(node(f"c{c}", op, {"logits": src, "target": t}))
        else:
            nodes.append(node(t, "target", shape=[width]))
            port = "logits" if op == "binary_cross_entropy" else "y"
            nodes.append(node(f"c{c}", op, {port: src, "target": t}))
        targets[t] = op
    batch = draw(st.sampled_from([1, 3]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    feeds = {f"x{i}": rng.standard_normal((batch, width)) for i in range(n_inputs)}
    for t, op in targets.items():
        if op == "cross_entropy":
            feeds[t] = rng.integers(0, width, batch)
        elif op == "binary_cross_entropy":
            feeds[t] = rng.uniform(0.05, 0.95, (batch, width))
        else:
            feeds[t] = rng.standard_normal((batch, width))
    d = doc(*nodes)
    assume_smooth(d, feeds)
    return d, feeds


def assume_smooth(d, feeds):
    """Reject draws that sit on a kink (ReLU at 0, a tie in Max, |y - t| = 0): finite
    differences and autograd tie-breaking are both meaningless exactly there."""
    plan = compile_graph(d, len(next(iter(feeds.values()))), dtype=np.float64, seed=0)
    plan.forward(feeds)
    v = plan.values
    for n in d["nodes"]:
        ins = n.get("inputs", {})
        if n["op"] in ("relu", "leaky_relu"):
            assume(np.abs(v[ins["x"]]).min() > KINKS[n["op"]])
        elif n["op"] == "max":
            assume(ins["a"] == ins["b"] or np.abs(v[ins["a"]] - v[ins["b"]]).min() > 1e-4)
        elif n["op"] == "l1":
            assume(np.abs(v[ins["y"]] - feeds[ins["target"]]).min() > KINKS["l1"])
