"""Packed buffers: a plan's parameters and gradients live in one flat buffer each, optimisers
and the trainer work on it in one call, and the numbers are those of the per-array updates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blockprop.engine import compile_graph
from blockprop.engine.buffers import ALIGN, pack, pack_like, span
from blockprop.engine.data import load_dataset
from blockprop.engine.optim import make_optimizer
from blockprop.engine.trainer import TrainConfig, Trainer

SHAPES = [(8, 2), (8,), (8, 8), (8,), (1, 8), (1,)]

MLP = {
    "version": 1,
    "nodes": [
        {"id": "x", "op": "input", "params": {"shape": [2]}},
        {"id": "y", "op": "target", "params": {"shape": [], "dtype": "int"}},
        {"id": "l1", "op": "linear", "params": {"out_features": 5}, "inputs": {"x": "x"}},
        {"id": "h", "op": "tanh", "inputs": {"x": "l1"}},
        {"id": "l2", "op": "linear", "params": {"out_features": 2}, "inputs": {"x": "h"}},
        {"id": "c", "op": "cross_entropy", "inputs": {"logits": "l2", "target": "y"}},
    ],
}


def test_pack_aligns_each_array_and_span_covers_exactly_the_pack():
    flat, views = pack(SHAPES, np.float32)
    assert [v.shape for v in views] == SHAPES
    assert all(v.base is flat and v.flags.c_contiguous for v in views)
    starts = [(v.ctypes.data - flat.ctypes.data) // 4 for v in views]
    assert all(s % ALIGN == 0 for s in starts)
    whole = span(views)
    assert whole is not None and whole.ctypes.data == flat.ctypes.data
    assert span(views[2:]) is not None  # a run of consecutive arrays is packed too
    assert span([views[0], views[2]]) is None  # one left out: its values would be touched
    assert span(views[::-1]) is None
    assert span([np.zeros(3), np.zeros(4)]) is None
    assert span([]) is None
    like_flat, like = pack_like(views)
    assert like_flat is not None and span(like) is not None
    assert pack_like([np.ones(3)])[0] is None


def test_a_compiled_plan_packs_its_parameters_and_gradients_in_order():
    plan = compile_graph(MLP, 4)
    params = [a for p in plan.params.values() for a in p.values()]
    grads = [a for p in plan.param_grads.values() for a in p.values()]
    assert span(params) is not None and span(grads) is not None
    assert span(params).size == span(grads).size
    assert np.all(span(grads) == 0)
    # the same values as before packing: initialised per node and parameter from the seed
    again = compile_graph(MLP, 4)
    for a, b in zip(params, (a for p in again.params.values() for a in p.values()), strict=True):
        assert a.tobytes() == b.tobytes()
    # plans for other batch sizes share the packed arrays
    other = plan.for_batch(3)
    assert other.param_grads["l1"]["W"] is plan.param_grads["l1"]["W"]


@pytest.mark.parametrize(
    "name,kw", [("sgd", {}), ("momentum", {}), ("momentum", {"nesterov": True}), ("adam", {})]
)
def test_packed_updates_equal_per_array_updates_bit_for_bit(name, kw):
    rng = np.random.default_rng(1)
    _, params = pack(SHAPES, np.float32)
    _, grads = pack(SHAPES, np.float32)
    for p in params:
        p[...] = rng.standard_normal(p.shape)
    loose = [p.copy() for p in params]
    loose_grads = [np.zeros_like(p) for p in params]
    packed = make_optimizer(name, params, grads, **kw)
    apart = make_optimizer(name, loose, loose_grads, **kw)
    assert packed.flat_state is not None and apart.flat_state is None
    for i in range(6):
        for g, h in zip(grads, loose_grads, strict=True):
            g[...] = h[...] = rng.standard_normal(g.shape)
        # the trainer passes other lists of the same arrays (a smaller last batch's plan)
        packed.step(0.05, list(grads) if i % 2 else None)
        apart.step(0.05)
    for a, b in zip(params, loose, strict=True):
        assert a.tobytes() == b.tobytes()
    for k, v in packed.state_dict().items():
        assert v.tobytes() == apart.state_dict()[k].tobytes()


def test_the_trainer_reports_the_norm_of_the_whole_gradient():
    ds = load_dataset("moons", n=100)
    t = Trainer(MLP, ds, TrainConfig(batch_size=16, epochs=1, lr=0.1))
    (point,) = t.step()
    grads = [g.astype(np.float64) for g in t._grads_full]
    expected = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    assert point["grad_norm"] == pytest.approx(expected, rel=1e-5)
