"""The loss chart's true L(S, w) at epoch ends, beside the mean of the epoch's batch losses."""

from __future__ import annotations

import pytest

from blockprop.engine.data import load_dataset
from blockprop.engine.trainer import Trainer
from blockprop.examples import get_example


@pytest.mark.parametrize("n_test", [0.0, 0.25])
def test_epoch_ends_carry_the_loss_on_the_whole_training_split(n_test):
    ex = get_example("linear_regression")
    data = load_dataset(**{**ex["dataset"], "n": 40, "test_fraction": n_test})
    cfg = {"epochs": 3, "batch_size": 4, "lr": 0.1, "dtype": "float64", "l2": 0.5}
    t = Trainer(ex["graph"], data, cfg)
    ends = []
    while not t.finished:
        for p in t.step():
            if "train_loss" in p:
                ends.append(p)
                # nothing moved since the epoch ended: the same number by evaluate()
                assert p["full_loss"] == pytest.approx(t.evaluate()["loss"], rel=1e-12)
    assert len(ends) == 3
    # the running mean was taken while the parameters moved: not the same number
    assert all(p["full_loss"] != pytest.approx(p["train_loss"], rel=1e-6) for p in ends)
