"""The Blockprop engine: computation graphs of blocks, forward and backward, in NumPy.

A graph document (DESIGN.md "Graph document") lists nodes; each names an op from the
registry and wires its input ports to other nodes' outputs. The engine

1. validates it and infers every shape before any array exists (:func:`validate`),
2. compiles it for a batch size and dtype into a :class:`Plan` (:func:`compile_graph`),
3. runs it: ``plan.forward(feeds)`` gives every value and the loss, ``plan.backward()``
   every gradient dL/dz and every parameter gradient,
4. checks it: :func:`gradcheck` compares backward with finite differences.

>>> import numpy as np
>>> from blockprop.engine import compile_graph, gradcheck, validate
>>> doc = {"version": 1, "nodes": [
...     {"id": "x", "op": "input", "params": {"shape": [2]}},
...     {"id": "y", "op": "target", "params": {"shape": [], "dtype": "int"}},
...     {"id": "l1", "op": "linear", "params": {"out_features": 8}, "inputs": {"x": "x"}},
...     {"id": "h1", "op": "tanh", "inputs": {"x": "l1"}},
...     {"id": "l2", "op": "linear", "params": {"out_features": 2}, "inputs": {"x": "h1"}},
...     {"id": "c", "op": "cross_entropy", "inputs": {"logits": "l2", "target": "y"}}]}
>>> validate(doc).shapes["h1"]
[8]
>>> plan = compile_graph(doc, batch_size=4, seed=0)
>>> feeds = {"x": np.zeros((4, 2)), "y": np.array([0, 1, 1, 0])}
>>> round(plan.forward(feeds), 4)  # the loss: mean over the batch of the sum of costs
0.6931
>>> plan.backward()
>>> plan.param_grads["l2"]["W"].shape, plan.grads["h1"].shape
((2, 8), (4, 8))
>>> max(gradcheck(doc, feeds).values()) < 1e-6
True

The ops (:mod:`blockprop.engine.registry`, declared in :mod:`blockprop.engine.ops`) say
everything about themselves: ``registry.op_spec("tanh")``. The engine imports nothing
from the web layers.
"""

from . import registry
from .executor import Plan, compile_graph
from .gradcheck import gradcheck
from .graph import GraphError, Issue, ValidationResult, validate

__all__ = [
    "GraphError",
    "Issue",
    "Plan",
    "ValidationResult",
    "compile_graph",
    "gradcheck",
    "registry",
    "validate",
]
