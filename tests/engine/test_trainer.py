"""The trainer: methods, metrics, regularisation, dropout, determinism, resume, divergence."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from blockprop.engine.data import load_dataset, load_npz
from blockprop.engine.graph import GraphError
from blockprop.engine.trainer import Status, TrainConfig, Trainer


def linreg_doc(features: int = 1) -> dict:
    return {
        "version": 1,
        "nodes": [
            {"id": "x", "op": "input", "params": {"shape": [features]}},
            {"id": "y", "op": "target", "params": {"shape": [1]}},
            {"id": "lin", "op": "linear", "params": {"out_features": 1}, "inputs": {"x": "x"}},
            {"id": "cost", "op": "squared_error", "inputs": {"y": "lin", "target": "y"}},
        ],
    }


def mlp_doc(inputs=2, hidden=16, classes=2, dropout: float | None = None, act="tanh") -> dict:
    nodes = [
        {"id": "x", "op": "input", "params": {"shape": [inputs]}},
        {"id": "y", "op": "target", "params": {"shape": [], "dtype": "int"}},
        {"id": "l1", "op": "linear", "params": {"out_features": hidden}, "inputs": {"x": "x"}},
        {"id": "h1", "op": act, "inputs": {"x": "l1"}},
    ]
    last = "h1"
    if dropout is not None:
        nodes.append(
            {"id": "drop", "op": "dropout", "params": {"p": dropout}, "inputs": {"x": "h1"}}
        )
        last = "drop"
    nodes += [
        {"id": "l2", "op": "linear", "params": {"out_features": classes}, "inputs": {"x": last}},
        {"id": "c", "op": "cross_entropy", "inputs": {"logits": "l2", "target": "y"}},
    ]
    return {"version": 1, "nodes": nodes}


LINEAR = dict(n=200, noise=0.02, a=2.0, b=-0.5, normalize=False)


def losses(points):
    return [p["loss"] for p in points]


def train(doc, ds, **cfg) -> tuple[Trainer, list[dict]]:
    t = Trainer(doc, ds, TrainConfig(**cfg))
    points: list[dict] = []
    status = t.run(on_points=points.extend)
    assert status == t.status
    return t, points


# ---- config ---------------------------------------------------------------------------------


def test_config_defaults_and_round_trip():
    c = TrainConfig()
    assert (c.epochs, c.batch_size, c.optimizer, c.lr, c.schedule) == (
        100,
        None,
        "sgd",
        0.1,
        "constant",
    )
    d = c.to_dict()
    json.dumps(d)
    assert TrainConfig.from_dict(d) == c
    assert TrainConfig.from_dict({"epochs": 5.0}).epochs == 5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", -1),
        ("epochs", 2.5),
        ("batch_size", 0),
        ("optimizer", "rmsprop"),
        ("lr", 0.0),
        ("lr", float("nan")),
        ("momentum", 1.0),
        ("nesterov", "yes"),
        ("schedule", "linear"),
        ("step_size", 0),
        ("gamma", 0.0),
        ("l1", -0.1),
        ("l2_start", -1),
        ("dropout", 1.0),
        ("max_steps", 0),
        ("eval_every", 0),
        ("dtype", "float16"),
        ("seed", -3),
        ("input", ""),
    ],
)
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})
    with pytest.raises(ValueError, match=field):
        TrainConfig.from_dict({field: value})


def test_unknown_config_key():
    with pytest.raises(ValueError, match="unknown training setting 'learning_rate'"):
        TrainConfig.from_dict({"learning_rate": 0.1})


# ---- the three methods ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("batch_size", "optimizer", "lr", "epochs", "steps_per_epoch"),
    [
        (None, "sgd", 0.5, 150, 1),  # full-batch gradient descent
        (1, "sgd", 0.05, 8, 160),  # SGD
        (24, "sgd", 0.3, 40, 7),  # mini-batch; 160 = 6 × 24 + 16: a smaller last batch
    ],
)
def test_gd_sgd_and_minibatch_recover_the_line(batch_size, optimizer, lr, epochs, steps_per_epoch):
    ds = load_dataset("linear", **LINEAR)
    t, points = train(
        linreg_doc(), ds, epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr
    )
    assert t.status == Status.DONE == "done"
    assert t.step_count == len(points) == epochs * steps_per_epoch
    assert [p["step"] for p in points] == list(range(1, len(points) + 1))
    assert t.epoch == epochs
    W, b = t.plan.params["lin"]["W"][0, 0], t.plan.params["lin"]["b"][0]
    assert abs(W - 2.0) < 0.02 and abs(b + 0.5) < 0.02
    assert points[-1]["test_loss"] < 0.002


def test_points_carry_every_metric():
    ds = load_dataset("spiral", n=100)
    t, points = train(mlp_doc(), ds, epochs=4, batch_size=30, optimizer="adam", lr=0.01)
    assert len(points) == 4 * 3  # 80 training samples: 30 + 30 + 20
    for p in points:
        assert {"step", "epoch", "loss", "lr", "grad_norm"} <= set(p)
        assert all(math.isfinite(v) for v in p.values())
        json.dumps(p)
    ends = [p for p in points if "train_loss" in p]
    assert [p["step"] for p in ends] == [3, 6, 9, 12]
    assert [p["epoch"] for p in ends] == [1, 2, 3, 4]
    assert all({"test_loss", "accuracy"} <= set(p) for p in ends)
    first = points[:3]  # the epoch's mean loss weights the smaller last batch by its size
    assert ends[0]["train_loss"] == pytest.approx(
        (30 * first[0]["loss"] + 30 * first[1]["loss"] + 20 * first[2]["loss"]) / 80
    )
    ev = t.evaluate()
    assert ev["test_loss"] == pytest.approx(points[-1]["test_loss"])
    assert ev["accuracy"] == points[-1]["accuracy"]
    assert 0.0 <= ev["train_accuracy"] <= 1.0


def test_eval_every_and_max_steps():
    ds = load_dataset("spiral", n=100)
    _, points = train(mlp_doc(), ds, epochs=5, eval_every=2)
    assert [p["epoch"] for p in points if "test_loss" in p] == [2, 4, 5]  # and the last one
    t, points = train(mlp_doc(), ds, epochs=50, batch_size=10, max_steps=13)
    assert t.status == "done" and "max_steps" in t.reason
    assert len(points) == 13 and "test_loss" in points[-1]
    assert t.step() == []


def test_regression_has_no_accuracy_and_an_empty_test_split_is_fine():
    ds = load_dataset("linear", n=50, test_fraction=0.0)
    t, points = train(linreg_doc(), ds, epochs=3)
    assert "accuracy" not in points[-1] and "test_loss" not in points[-1]
    assert set(t.evaluate()) == {"loss"}
    ds = load_dataset("blobs", n=60, test_fraction=0.0)
    t, points = train(mlp_doc(classes=3), ds, epochs=2)
    assert "accuracy" in points[-1] and "test_loss" not in points[-1]


def test_schedule_drives_the_learning_rate_per_epoch():
    ds = load_dataset("linear", n=50)
    _, points = train(
        linreg_doc(), ds, epochs=6, batch_size=20, lr=0.2, schedule="step", step_size=2, gamma=0.5
    )
    per_epoch = {p["epoch"]: p["lr"] for p in points}
    assert per_epoch == {1: 0.2, 2: 0.2, 3: 0.1, 4: 0.1, 5: 0.05, 6: 0.05}


# ---- optimisers on an ill-conditioned problem ------------------------------------------------


def test_momentum_and_adam_beat_sgd_on_an_ill_conditioned_regression():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (200, 2)) * np.array([1.0, 30.0])  # curvatures differ by 900×
    y = x @ np.array([1.0, 0.3]) + 0.5
    buf = io.BytesIO()
    np.savez(buf, x=x, y=y)
    ds = load_npz(buf.getvalue(), normalize=False, task="regression")

    def best(lrs, **cfg):  # each method with its best rate from a grid, 100 full-batch steps
        finals = []
        for lr in lrs:
            t, points = train(linreg_doc(2), ds, epochs=100, dtype="float64", lr=lr, **cfg)
            finals.append(points[-1]["train_loss"] if t.status == "done" else math.inf)
        return min(finals)

    grid = [3e-4 * 2**k for k in range(6)]  # SGD is stable up to about 2.6e-3 here
    sgd = best(grid, optimizer="sgd")
    assert sgd > 0.05
    assert best(grid, optimizer="momentum", momentum=0.9) < sgd / 10
    assert best(grid, optimizer="momentum", momentum=0.9, nesterov=True) < sgd / 10
    assert best([0.03, 0.1, 0.3, 1.0], optimizer="adam") < sgd / 10


# ---- regularisation and dropout -------------------------------------------------------------


def _weight_norm(t: Trainer) -> float:
    return math.sqrt(sum(float((t.plan.params[n]["W"] ** 2).sum()) for n in ("l1", "l2")))


def test_only_weights_are_regularised():
    t = Trainer(mlp_doc(), load_dataset("spiral", n=50), TrainConfig())
    names = [t.param_keys[i] for i in t._weights]
    assert names == [("l1", "W"), ("l2", "W")]


def test_l2_shrinks_weights_and_only_from_its_start_epoch():
    ds = load_dataset("moons", n=100)
    cfg = dict(epochs=10, batch_size=20, optimizer="adam", lr=0.05)
    plain, p0 = train(mlp_doc(hidden=32), ds, **cfg)
    l2, p1 = train(mlp_doc(hidden=32), ds, l2=0.05, **cfg)
    late, p2 = train(mlp_doc(hidden=32), ds, l2=0.05, l2_start=4, **cfg)
    assert _weight_norm(l2) < 0.8 * _weight_norm(plain)
    assert _weight_norm(l2) < _weight_norm(late) < _weight_norm(plain)
    # epochs 0..3 (4 steps each) are untouched by a penalty that starts at epoch 4
    assert losses(p2)[:16] == losses(p0)[:16]
    assert losses(p2)[17] != losses(p0)[17]
    assert losses(p1)[1] != losses(p0)[1]


def test_l1_drives_weights_towards_zero():
    ds = load_dataset("moons", n=100)
    cfg = dict(epochs=20, batch_size=20, optimizer="sgd", lr=0.1)
    plain, _ = train(mlp_doc(hidden=32), ds, **cfg)
    l1, _ = train(mlp_doc(hidden=32), ds, l1=0.01, **cfg)
    w0 = np.abs(plain.plan.params["l1"]["W"]).sum()
    w1 = np.abs(l1.plan.params["l1"]["W"]).sum()
    assert w1 < 0.8 * w0


def test_dropout_acts_only_while_training():
    ds = load_dataset("moons", n=100, test_fraction=0.0)
    t = Trainer(mlp_doc(hidden=64, dropout=0.5), ds, TrainConfig(epochs=3))
    before = t.evaluate()["loss"]
    assert t.evaluate()["loss"] == before  # evaluation: no dropout, deterministic
    t.plan.forward(
        {"x": t._x["train"], "y": t._y["train"]}, training=True, rng=np.random.default_rng(0)
    )
    assert float(np.mean(t.plan.values["drop"] == 0)) == pytest.approx(0.5, abs=0.05)
    first = t.step()[0]["loss"]
    assert first != pytest.approx(before, rel=1e-6)  # training step: masks on
    # the config can switch dropout off (or change its rate) for every dropout node
    t0 = Trainer(mlp_doc(hidden=64, dropout=0.5), ds, TrainConfig(epochs=3, dropout=0.0))
    assert t0.step()[0]["loss"] == pytest.approx(t0_before := before, rel=1e-6), t0_before
    t9 = Trainer(mlp_doc(hidden=64, dropout=0.5), ds, TrainConfig(epochs=3, dropout=0.9))
    t9.step()
    assert float(np.mean(t9.plan.values["drop"] == 0)) == pytest.approx(0.9, abs=0.03)


# ---- determinism and checkpoints ------------------------------------------------------------

RICH = dict(
    epochs=6,
    batch_size=16,
    optimizer="adam",
    lr=0.02,
    l2=0.001,
    l1=0.0005,
    l1_start=2,
    schedule="cosine",
    shuffle=True,
    seed=7,
)


def test_same_seed_same_losses_bit_for_bit():
    ds = load_dataset("spiral", n=150)
    _, a = train(mlp_doc(dropout=0.2), ds, **RICH)
    _, b = train(mlp_doc(dropout=0.2), ds, **RICH)
    assert a == b  # every field of every point, exactly
    _, c = train(mlp_doc(dropout=0.2), ds, **{**RICH, "seed": 8})
    assert losses(a) != losses(c)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_resume_from_a_checkpoint_continues_exactly(optimizer):
    ds = load_dataset("spiral", n=150)
    cfg = TrainConfig(**{**RICH, "optimizer": optimizer})
    doc = mlp_doc(dropout=0.2)
    ref = Trainer(doc, ds, cfg)
    ref_points: list[dict] = []
    ref.run(on_points=ref_points.extend)

    t = Trainer(doc, ds, cfg)
    head: list[dict] = []
    for _ in range(17):  # mid-epoch (8 steps per epoch)
        head += t.step()
    t.set(lr=0.02)  # a pending live setting travels with the checkpoint
    data = t.save_checkpoint()
    assert isinstance(data, bytes)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:  # never pickle
        assert "meta" in npz.files and "param/l1/W" in npz.files
    resumed = Trainer.from_checkpoint(doc, ds, cfg, data)
    assert (resumed.step_count, resumed.epoch) == (17, 2)
    tail: list[dict] = []
    resumed.run(on_points=tail.extend)
    assert head + tail == ref_points
    for nid, name in ref.param_keys:
        np.testing.assert_array_equal(resumed.plan.params[nid][name], ref.plan.params[nid][name])


def test_checkpoint_for_another_graph_is_refused():
    ds = load_dataset("spiral", n=60)
    data = Trainer(mlp_doc(), ds, TrainConfig(epochs=1)).save_checkpoint()
    with pytest.raises((ValueError, GraphError)):
        Trainer.from_checkpoint(mlp_doc(hidden=8), ds, TrainConfig(epochs=1), data)
    with pytest.raises(ValueError, match="checkpoint"):
        Trainer.from_checkpoint(mlp_doc(), ds, TrainConfig(epochs=1), b"junk")
    with pytest.raises(ValueError, match="optimizer='sgd'"):
        Trainer.from_checkpoint(mlp_doc(), ds, TrainConfig(optimizer="adam"), data)
    more = Trainer.from_checkpoint(mlp_doc(), ds, {"epochs": 3}, data)  # longer is fine
    assert more.run() == "done" and more.epoch == 3


# ---- divergence ------------------------------------------------------------------------------


def test_huge_learning_rate_diverges_naming_the_first_nonfinite_node():
    ds = load_dataset("sine", n=100)
    doc = {
        "version": 1,
        "nodes": [
            {"id": "x", "op": "input", "params": {"shape": [1]}},
            {"id": "y", "op": "target", "params": {"shape": [1]}},
            {"id": "l1", "op": "linear", "params": {"out_features": 16}, "inputs": {"x": "x"}},
            {"id": "h", "op": "relu", "inputs": {"x": "l1"}},
            {"id": "l2", "op": "linear", "params": {"out_features": 1}, "inputs": {"x": "h"}},
            {"id": "c", "op": "squared_error", "inputs": {"y": "l2", "target": "y"}},
        ],
    }
    statuses: list[tuple] = []
    t = Trainer(doc, ds, TrainConfig(epochs=50, lr=1e6))
    points: list[dict] = []
    t.run(on_points=points.extend, on_status=lambda s, r: statuses.append((s, r)))
    assert t.status == "diverged" and statuses[-1][0] == "diverged"
    assert t.diverged_step == len(points) + 1 <= 4
    assert all(math.isfinite(p["loss"]) and math.isfinite(p["grad_norm"]) for p in points)
    assert t.diverged_node in {"l1", "h", "l2", "c"}
    assert f"'{t.diverged_node}'" in t.reason and f"step {t.diverged_step}" in t.reason
    # the parameters of the last finite step are kept: they reproduce its loss
    for arrs in t.plan.params.values():
        assert all(np.isfinite(a).all() for a in arrs.values())
    assert t.plan.forward({"x": t._x["train"], "y": t._y["train"]}) == points[-1]["loss"]
    assert t.step() == []


def test_first_nonfinite_node_in_topological_order():
    ds = load_dataset("sine", n=20)
    doc = linreg_doc()
    doc["nodes"].insert(2, {"id": "e", "op": "exp", "inputs": {"x": "x"}})
    doc["nodes"][3]["inputs"] = {"x": "e"}
    t = Trainer(doc, ds, TrainConfig(epochs=5))
    t._x["train"][3, 0] = 1000.0  # exp overflows at node 'e' on the first step
    t.run()
    assert t.status == "diverged" and t.diverged_node == "e" and t.diverged_step == 1


# ---- mapping the dataset onto the graph ------------------------------------------------------


def test_shape_mismatch_names_the_node_and_the_dataset():
    doc = mlp_doc(inputs=3)
    with pytest.raises(GraphError) as e:
        Trainer(doc, load_dataset("spiral"), TrainConfig())
    assert str(e.value) == "input node 'x' has shape [3] but dataset 'spiral' has 2 features"
    assert e.value.issues[0].nodes == ["x"] and e.value.code == "bad_feed"


def test_several_inputs_need_an_explicit_mapping():
    doc = mlp_doc()
    doc["nodes"].append({"id": "x2", "op": "input", "params": {"shape": [2]}})
    doc["nodes"].append({"id": "s", "op": "sum", "inputs": {"x": "x2"}})
    with pytest.raises(GraphError, match="several input nodes \\('x', 'x2'\\)"):
        Trainer(doc, load_dataset("spiral", n=20), TrainConfig())
    with pytest.raises(GraphError, match="'x2' is not fed"):
        Trainer(doc, load_dataset("spiral", n=20), TrainConfig(input="x"))
    with pytest.raises(GraphError, match="'nope' is not an input node"):
        Trainer(doc, load_dataset("spiral", n=20), TrainConfig(input="nope"))


def test_targets_adapt_labels_one_hot_and_binary():
    ds = load_dataset("blobs", n=90)
    onehot = mlp_doc(classes=3)
    onehot["nodes"][1]["params"] = {"shape": [3]}  # float one-hot rows, as in the notes
    onehot["nodes"][-1] = {"id": "c", "op": "squared_error", "inputs": {"y": "p", "target": "y"}}
    onehot["nodes"].insert(-1, {"id": "p", "op": "softmax", "inputs": {"x": "l2"}})
    t, _ = train(onehot, ds, epochs=30, optimizer="adam", lr=0.05)
    assert t.evaluate()["accuracy"] > 0.9
    ds2 = load_dataset("blobs", n=90, classes=2)
    hinge = linreg_doc(2)
    hinge["nodes"][-1] = {"id": "c", "op": "hinge", "inputs": {"y": "lin", "target": "y"}}
    t, _ = train(hinge, ds2, epochs=30, lr=0.1)
    assert t.target_kind == "signs" and t.evaluate()["accuracy"] > 0.9
    with pytest.raises(GraphError, match="regression"):
        Trainer(mlp_doc(inputs=1), load_dataset("linear"), TrainConfig())
    with pytest.raises(GraphError, match="3 classes"):
        Trainer(mlp_doc(classes=2), ds, TrainConfig())


def test_a_graph_without_cost_has_nothing_to_train():
    doc = {
        "version": 1,
        "nodes": [
            {"id": "x", "op": "input", "params": {"shape": [2]}},
            {"id": "d", "op": "sq_distance", "params": {"rows": 2}, "inputs": {"x": "x"}},
            {"id": "k", "op": "argmin", "inputs": {"x": "d"}},
        ],
    }
    t = Trainer(doc, load_dataset("blobs", n=40, classes=2), TrainConfig(output="k"))
    assert t.run() == "done" and "no cost" in t.reason and t.step_count == 0
    assert 0.0 <= t.evaluate()["accuracy"] <= 1.0


# ---- control from another thread ------------------------------------------------------------


def test_pause_step_set_resume_stop_from_another_thread():
    import threading

    ds = load_dataset("spiral", n=100)
    t = Trainer(mlp_doc(), ds, TrainConfig(epochs=100_000, batch_size=10))
    points: list[dict] = []
    statuses: list[str] = []
    got = threading.Event()

    def on_points(ps):
        points.extend(ps)
        got.set()

    t.pause()  # start paused
    th = threading.Thread(
        target=t.run, kwargs={"on_points": on_points, "on_status": lambda s, r: statuses.append(s)}
    )
    th.start()

    def wait_for(cond, timeout=10.0):
        import time

        end = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < end, "timed out"
            time.sleep(0.005)

    wait_for(lambda: t.status == "paused")
    assert points == []
    t.request_steps(3)
    wait_for(lambda: len(points) == 3 and t.status == "paused")
    import time

    time.sleep(0.05)
    assert len(points) == 3  # and no more
    assert t.set(lr=0.05)["lr"] == 0.05
    with pytest.raises(ValueError, match="batch_size"):
        t.set(batch_size=3)
    with pytest.raises(ValueError, match="lr"):
        t.set(lr=-1.0)
    with pytest.raises(ValueError, match="momentum applies"):
        t.set(momentum=0.5)
    t.request_steps(1)
    wait_for(lambda: len(points) == 4)
    assert points[-1]["lr"] == 0.05 and points[2]["lr"] == 0.1
    t.resume()
    wait_for(lambda: len(points) > 20)
    t.stop()
    th.join(10)
    assert not th.is_alive()
    assert t.status == "stopped"
    assert statuses[:2] == ["paused", "running"] and statuses[-1] == "stopped"
    assert [p["step"] for p in points] == list(range(1, len(points) + 1))


def test_speed_paces_run_and_changes_live():
    """`speed` caps the steps per second: never more (a late step is made up for by one at
    most), which a loaded machine cannot break; raised to 0 the run goes as fast as it can, far
    beyond the cap; and stop is served at once while the run waits for its next step."""
    import threading
    import time

    def wait_for(cond, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < end, f"timed out waiting for {what}"
            time.sleep(0.005)

    ds = load_dataset("spiral", n=100)
    t = Trainer(mlp_doc(), ds, TrainConfig(epochs=100_000, batch_size=10, speed=20))
    th = threading.Thread(target=t.run)
    th.start()
    wait_for(lambda: t.step_count >= 2, 20, "the first steps")
    t0 = time.monotonic()  # the window holds every step counted in it
    first = t.step_count
    wait_for(lambda: t.step_count >= first + 10, 20, "10 paced steps")
    paced = t.step_count
    window = time.monotonic() - t0
    assert paced - first <= 20 * window + 2, (paced - first, window)  # at most 20 steps/s
    t.set(speed=0)  # as fast as it goes: 1000 steps would take 50 s at 20 steps/s
    wait_for(lambda: t.step_count >= paced + 1000, 25, "1000 unpaced steps")
    t.set(speed=0.02)  # a step every 50 s: the run waits for its next step
    slow = t.step_count
    t.stop()  # prompt even while waiting for the next step
    th.join(20)
    assert not th.is_alive() and t.status == "stopped"
    assert t.step_count <= slow + 2  # the step under way, and at most one due at once
    with pytest.raises(ValueError, match="speed"):
        t.set(speed=-1)


def test_should_continue_stops_the_run():
    ds = load_dataset("spiral", n=100)
    t = Trainer(mlp_doc(), ds, TrainConfig(epochs=1000, batch_size=10))
    points: list[dict] = []
    assert t.run(on_points=points.extend, should_continue=lambda: len(points) < 5) == "stopped"
    assert len(points) == 5


def test_a_failing_callback_fails_the_run():
    t = Trainer(mlp_doc(), load_dataset("spiral", n=40), TrainConfig(epochs=3))

    def boom(points):
        raise RuntimeError("disk full")

    assert t.run(on_points=boom) == "failed"
    assert "disk full" in t.reason and isinstance(t.error, RuntimeError)


# ---- observation -----------------------------------------------------------------------------


def test_snapshot_summarises_every_node_and_parameter():
    ds = load_dataset("spiral", n=100)
    t = Trainer(mlp_doc(), ds, TrainConfig(epochs=2, batch_size=10))
    snap0 = t.snapshot()  # before any step: a forward/backward of the first batch
    assert snap0["step"] == 0 and set(snap0["nodes"]) == {"x", "y", "l1", "h1", "l2", "c"}
    t.step()
    snap = t.snapshot()
    json.dumps(snap)
    h1 = snap["nodes"]["h1"]
    assert h1["value"]["shape"] == [16] and h1["value"]["batch"] == 10
    assert len(h1["value"]["data"]) == 16  # one sample's vector
    assert len(h1["value"]["hist"]["counts"]) == 16
    assert h1["grad"]["shape"] == [16]
    assert snap["params"]["l1"]["W"]["shape"] == [16, 2]
    assert len(snap["params"]["l1"]["W"]["matrix"]) == 16
    assert snap["param_grads"]["l2"]["b"]["shape"] == [2]
    only = t.snapshot(nodes=["l2"])
    assert set(only["nodes"]) == {"l2"} and set(only["params"]) == {"l2"}


def test_boundary_over_a_grid():
    ds = load_dataset("moons", n=120)
    t, _ = train(mlp_doc(), ds, epochs=30, batch_size=16, optimizer="adam", lr=0.05)
    b = t.boundary(grid=12)
    json.dumps(b)
    assert len(b["x0"]) == len(b["x1"]) == 12 and len(b["z"]) == 12 and len(b["z"][0]) == 12
    assert {v for row in b["z"] for v in row} == {0, 1} and b["kind"] == "class"
    assert len(b["points"]["train"]) == 96 and len(b["points"]["test"]) == 24
    # regression over 2-D inputs: the output value
    ds2 = load_dataset("plane", n=60)
    t2, _ = train(linreg_doc(2), ds2, epochs=5)
    b2 = t2.boundary(grid=5)
    assert b2["kind"] == "value" and isinstance(b2["z"][0][0], float)
    assert (
        Trainer(mlp_doc(inputs=4, classes=3), load_dataset("iris"), TrainConfig()).boundary()
        is None
    )
    # regression on one feature: the fitted curve over the data, with the samples
    ds3 = load_dataset("linear", n=50, noise=0.01)
    t3, _ = train(linreg_doc(1), ds3, epochs=200, lr=0.5)
    b3 = t3.boundary(grid=10)
    json.dumps(b3)
    assert b3["kind"] == "curve" and b3["x1"] == [] and len(b3["z"]) == 1
    assert len(b3["x0"]) == len(b3["z"][0]) == 40
    x, y = b3["points"]["train"][0]
    pred = np.interp(x, b3["x0"], b3["z"][0])
    assert abs(pred - y) < 0.1  # the line fits the points


def test_state_is_json_and_reloads():
    ds = load_dataset("spiral", n=60)
    t, _ = train(mlp_doc(), ds, epochs=3)
    state = json.loads(json.dumps(t.state()))
    t2 = Trainer(mlp_doc(), ds, TrainConfig(epochs=3), state=state)
    assert t2.evaluate() == pytest.approx(t.evaluate())
