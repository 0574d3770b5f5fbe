"""The loss landscape: the grid is L(S, w) evaluated directly, and the three descents' paths."""

from __future__ import annotations

import numpy as np
import pytest

from blockprop.engine import GraphError, compile_graph
from blockprop.engine.data import load_dataset
from blockprop.engine.landscape import landscape
from blockprop.examples import get_example

EX = get_example("linear_regression")
DOC = EX["graph"]
AXES = [
    {"param": "lin.W", "index": [0, 0], "range": [-1.0, 3.0]},
    {"param": "lin.b", "index": [0], "range": [-2.0, 1.0]},
]


@pytest.fixture(scope="module")
def data():
    return load_dataset(**{**EX["dataset"], "n": 60})


@pytest.fixture(scope="module")
def land(data):
    return landscape(DOC, data, AXES, (31, 21), config={"lr": 0.2, "seed": 3}, steps=30)


def _direct(data, w, b):
    """L(S, w) by a fresh plan on the whole training set, the two entries set by hand."""
    plan = compile_graph(DOC, data.n_train, dtype=np.float64, state={"lin": {"W": [[w]], "b": [b]}})
    y = data.y_train.reshape(data.n_train, -1)
    return plan.forward({"x": data.x_train, "y": y})


def test_grid_is_the_loss_at_sampled_points(data, land):
    a, b, loss = land["a"], land["b"], land["loss"]
    assert loss.shape == (21, 31) and a[0] == -1.0 and a[-1] == 3.0 and b[-1] == 1.0
    rng = np.random.default_rng(0)
    for r, c in zip(rng.integers(0, 21, 8), rng.integers(0, 31, 8), strict=True):
        assert loss[r, c] == pytest.approx(_direct(data, a[c], b[r]), rel=1e-12)


def test_paths_start_together_and_descend(data, land):
    paths = land["paths"]
    assert set(paths) == {"gd", "sgd", "minibatch"}
    assert land["batch_sizes"] == {"gd": data.n_train, "sgd": 1, "minibatch": 8}
    for m, path in paths.items():
        assert path[0] == land["start"], m
        assert len(path) == 31, m
        end = _direct(data, *path[-1])
        assert end < land["start_loss"] / 2, m  # each method went downhill
    assert land["start_loss"] == pytest.approx(_direct(data, *land["start"]), rel=1e-12)
    assert paths["gd"] != paths["sgd"] != paths["minibatch"]


def test_start_and_errors(data):
    out = landscape(DOC, data, AXES, (3, 3), start=[0.5, 0.25], steps=1)
    assert out["start"] == [0.5, 0.25] and out["paths"]["gd"][0] == [0.5, 0.25]
    bad = [{**AXES[0], "param": "lin.Q"}, AXES[1]]
    with pytest.raises(GraphError) as e:
        landscape(DOC, data, bad, (3, 3))
    assert e.value.issues[0].code == "bad_param" and "lin.W" in e.value.issues[0].message
    with pytest.raises(GraphError) as e:
        landscape(DOC, data, [{**AXES[0], "index": [0, 5]}, AXES[1]], (3, 3))
    assert e.value.issues[0].code == "bad_param"
    with pytest.raises(GraphError) as e:
        landscape(DOC, data, AXES, (102, 3))
    assert e.value.issues[0].code == "too_large"


def test_a_grid_too_costly_is_refused_with_its_sizes(monkeypatch, data):
    import blockprop.engine.landscape as mod

    monkeypatch.setattr(mod, "MAX_WORK", 1000)
    with pytest.raises(GraphError) as e:
        landscape(DOC, data, AXES, (11, 11))
    msg = e.value.issues[0].message
    assert e.value.issues[0].code == "too_large" and "11 × 11" in msg and "limit is 1,000" in msg
