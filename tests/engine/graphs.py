"""Graph builders shared by the engine tests."""

from __future__ import annotations

import numpy as np

from blockprop.engine import registry
from blockprop.engine.graph import validate
from blockprop.engine.registry import OpDef, Sample, SampleData, sample_array


def node(id, op, inputs=None, **params):
    n = {"id": id, "op": op, "params": params}
    if inputs:
        n["inputs"] = inputs
    return n


def doc(*nodes, state=None):
    d = {"version": 1, "name": "test", "nodes": list(nodes)}
    if state:
        d["state"] = state
    return d


def op_graph(op: OpDef, sample: Sample, batch: int, seed: int = 0):
    """A graph exercising one op on a sample: fed inputs -> op -> a cost on each output.

    Returns (doc, feeds). Non-cost float outputs get a squared-error cost against a random
    target, so every gradient is non-degenerate (a plain sum of softmax outputs would not be).
    """
    rng = np.random.default_rng(seed)
    nodes, feeds, inputs = [], {}, {}
    for port in op.inputs:
        spec = sample.inputs[port.name]
        data = sample_array(spec, batch, rng)
        pid = f"in_{port.name}"
        if data.dtype.kind == "i":
            nodes.append(node(pid, "target", shape=list(data.shape[1:]), dtype="int"))
        else:
            nodes.append(node(pid, "input", shape=list(data.shape[1:])))
        feeds[pid] = data
        inputs[port.name] = pid
    nodes.append(node("op", op.name, inputs, **sample.params))
    if op.source in ("input", "target"):  # the op is itself fed
        shape = validate(doc(*nodes)).shapes["op"]
        feeds["op"] = rng.standard_normal((batch, *shape))
    if op.category != "cost":
        shapes = validate(doc(*nodes)).shapes
        keys = ["op"] if len(op.outputs) == 1 else [f"op:{o}" for o in op.outputs]
        for i, k in enumerate(keys):
            if op.dtype == "int":
                continue
            t = f"t{i}"
            nodes.append(node(t, "target", shape=shapes[k]))
            feeds[t] = rng.standard_normal((batch, *shapes[k]))
            nodes.append(node(f"c{i}", "squared_error", {"y": k, "target": t}))
    return doc(*nodes), feeds


def all_samples():
    """(op, sample index, sample) for every registered op and sample."""
    return [(op, i, s) for op in registry.all_ops() for i, s in enumerate(op.samples)]


__all__ = ["SampleData", "all_samples", "doc", "node", "op_graph"]
