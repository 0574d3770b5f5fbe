"""Graphs and feeds shared by the export tests: every shipped example and a graph per op."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from blockprop.engine import compile_graph, registry
from blockprop.engine.graph import analyse
from blockprop.examples import get_example, list_examples

# the engine tests' per-op graph builder (a fed input per port -> the op -> a cost per output)
_spec = importlib.util.spec_from_file_location(
    "_engine_test_graphs", Path(__file__).resolve().parents[1] / "engine" / "graphs.py"
)
_graphs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_graphs)
op_graph = _graphs.op_graph
node = _graphs.node
doc = _graphs.doc

EXAMPLE_IDS = [e["id"] for e in list_examples()]
#: (op, sample index, sample) for every registered op and sample
OP_SAMPLES = [(op, i, s) for op in registry.all_ops() for i, s in enumerate(op.samples)]
OP_SAMPLE_IDS = [f"{op.name}-{i}" for op, i, _ in OP_SAMPLES]


def example_graph(example_id: str) -> dict:
    return get_example(example_id)["graph"]


def random_feeds(d: dict, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A random batch for every input and target of ``d``: normal inputs, targets in (0, 1)
    or, for integer labels, classes below the width of the scores they are compared with."""
    rng = np.random.default_rng(seed)
    an = analyse(d)
    assert an.result.ok, an.result.errors
    shapes = an.result.shapes
    feeds: dict[str, np.ndarray] = {}
    for n in an.nodes:
        if n.op.source == "input":
            feeds[n.id] = rng.standard_normal((batch, *n.shapes[0]))
        elif n.op.source == "target" and n.dtypes[0] == "int":
            widths = [
                shapes[src][-1]
                for m in an.nodes
                if n.id in m.sources.values()
                for src in m.sources.values()
                if src != n.id
            ]
            feeds[n.id] = rng.integers(0, min(widths, default=2), (batch, *n.shapes[0]))
        elif n.op.source == "target":
            feeds[n.id] = rng.uniform(0.05, 0.95, (batch, *n.shapes[0]))
    return feeds


def engine_run(d: dict, feeds: dict, *, seed: int = 0, state=None, backward: bool = True):
    """The engine's float64 forward (and backward) on ``feeds``: the plan."""
    batch = len(next(iter(feeds.values()))) if feeds else 1
    plan = compile_graph(d, batch, dtype=np.float64, seed=seed, state=state, grads="all")
    plan.loss = plan.forward(feeds)
    if backward:
        plan.backward()
    return plan


def all_cases():
    """(id, graph, feeds) for every shipped example and every op sample."""
    cases = []
    for eid in EXAMPLE_IDS:
        d = example_graph(eid)
        cases.append((f"example-{eid}", d, random_feeds(d, 5, seed=1)))
    for (op, _, sample), cid in zip(OP_SAMPLES, OP_SAMPLE_IDS, strict=True):
        d, feeds = op_graph(op, sample, 4, seed=2)
        cases.append((f"op-{cid}", d, feeds))
    return cases
