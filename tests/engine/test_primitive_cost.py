"""A cost built from primitives (lecture 002's ½e²: subtract → square → sum → × ½, marked as a
cost) trains like the declared squared error, and the ops' registry walk covers `as_cost`."""

from __future__ import annotations

import numpy as np
import pytest

from blockprop.engine import compile_graph
from blockprop.engine.data import load_dataset
from blockprop.engine.trainer import Trainer
from blockprop.examples import get_example

from .graphs import doc, node

HALF_E2 = doc(
    node("x", "input", shape=[1]),
    node("y", "target", shape=[1]),
    node("lin", "linear", {"x": "x"}, out_features=1),
    node("e", "subtract", {"a": "lin", "b": "y"}),
    node("e2", "square", {"x": "e"}),
    node("s", "sum", {"x": "e2"}),
    node("half", "constant", value=0.5),
    node("c2", "multiply", {"a": "s", "b": "half"}),
    node("cost", "as_cost", {"x": "c2"}),
)


def test_half_e_squared_is_half_the_squared_error():
    rng = np.random.default_rng(0)
    feeds = {"x": rng.standard_normal((6, 1)), "y": rng.standard_normal((6, 1))}
    mine = compile_graph(HALF_E2, 6, dtype=np.float64, seed=1)
    se = {**get_example("linear_regression")["graph"]}
    ref = compile_graph(se, 6, dtype=np.float64, seed=1, state={"lin": mine.state_dict()["lin"]})
    assert mine.forward(feeds) == pytest.approx(0.5 * ref.forward(feeds), rel=1e-12)
    mine.backward()
    ref.backward()
    np.testing.assert_allclose(mine.param_grads["lin"]["W"], 0.5 * ref.param_grads["lin"]["W"])


def test_it_trains_and_recovers_the_line():
    ex = get_example("linear_regression")
    data = load_dataset(**{**ex["dataset"], "n": 100})
    t = Trainer(HALF_E2, data, {"epochs": 300, "lr": 0.5, "dtype": "float64"})
    before = t.evaluate()["loss"]
    t.run()
    after = t.evaluate()["loss"]
    assert after < before / 100
    w, b = t.plan.params["lin"]["W"][0, 0], t.plan.params["lin"]["b"][0]
    assert w == pytest.approx(ex["dataset"]["a"], abs=0.05)  # the line that made the data
    assert b == pytest.approx(ex["dataset"]["b"], abs=0.05)
