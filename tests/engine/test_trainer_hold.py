"""A trainer held on divergence (`hold_on_divergence`, as the server's workers build it): the
last finite state is put back, the run waits as when paused, and resume, steps, live settings
and stop work from there. Without the option divergence ends the run (test_trainer.py)."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from blockprop.engine.data import load_dataset
from blockprop.engine.trainer import Status, TrainConfig, Trainer

DOC = {
    "version": 1,
    "nodes": [
        {"id": "x", "op": "input", "params": {"shape": [1]}},
        {"id": "y", "op": "target", "params": {"shape": [1]}},
        {"id": "lin", "op": "linear", "params": {"out_features": 1}, "inputs": {"x": "x"}},
        {"id": "cost", "op": "squared_error", "inputs": {"y": "lin", "target": "y"}},
    ],
}
# momentum at lr 1e6: finite losses for 3 steps (0.46, 1e12, 5e24), then inf at step 4
GRADUAL = dict(epochs=60, optimizer="momentum", lr=1e6)
# lr 1e30: the first update overflows, so step 2 diverges and step 1's (initial) state is kept
ABRUPT = dict(epochs=60, optimizer="adam", lr=1e30)


def dataset():
    return load_dataset("linear", n=200, noise=0.02, a=2.0, b=-0.5, normalize=False)


class Watched:
    """A trainer running in a thread, as a worker runs it, with its points and statuses."""

    def __init__(self, trainer: Trainer):
        self.t = trainer
        self.points: list[dict] = []
        self.statuses: list[tuple[str, str | None]] = []
        self.result: list[Status] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.result.append(self.t.run(on_points=self.points.extend, on_status=self._status_changed))

    def _status_changed(self, status: str, reason: str | None) -> None:
        self.statuses.append((status, reason))

    def wait(self, cond, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < end, f"timed out: {self.t.status} {self.statuses}"
            time.sleep(0.002)

    def wait_held(self) -> None:
        self.wait(lambda: self.t.held)

    def join(self) -> Status:
        self.thread.join(10)
        assert not self.thread.is_alive()
        return self.result[0]


def state_of(t: Trainer) -> dict[str, np.ndarray]:
    pairs = zip(t.param_keys, t._params, strict=True)
    out = {f"param/{nid}/{name}": a.copy() for (nid, name), a in pairs}
    out.update({f"optim/{k}": np.array(v) for k, v in t.optimizer.state_dict().items()})
    return out


def assert_same_state(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].tobytes() == b[key].tobytes(), key  # bit for bit


def test_held_divergence_keeps_the_last_finite_state_bit_for_bit_and_resumes():
    ds = dataset()
    w = Watched(Trainer(DOC, ds, TrainConfig(**GRADUAL), hold_on_divergence=True))
    w.wait_held()
    t = w.t
    before = list(w.points)
    assert [p["step"] for p in before] == [1, 2, 3]
    assert w.thread.is_alive(), "a held run waits for control"
    assert t.status == "diverged" and not t.finished
    assert (t.diverged_step, t.diverged_node) == (4, "cost")
    assert [s for s, _ in w.statuses] == ["running", "diverged"]

    # the same reason, node and step as a run that ends on divergence, the same parameters
    ended = Trainer(DOC, ds, TrainConfig(**GRADUAL))
    assert ended.run() == "diverged" and ended.finished and not ended.held
    assert (ended.reason, ended.diverged_node, ended.diverged_step) == (
        t.reason,
        t.diverged_node,
        t.diverged_step,
    )
    assert w.statuses[-1][1] == t.reason
    for p, q in zip(ended._params, t._params, strict=True):
        assert p.tobytes() == q.tobytes()
    # ... and the optimiser's state too: what two steps leave (step 3's loss was computed
    # with those parameters; its update is undone)
    ref = Trainer(DOC, ds, TrainConfig(**GRADUAL))
    ref.step(), ref.step()
    assert_same_state(state_of(t), state_of(ref))
    assert t.optimizer.t == 2

    t.pause()  # it is held already: nothing changes
    time.sleep(0.05)
    assert t.status == "diverged" and t.held and len(w.points) == 3

    # a smaller learning rate, then resume: from the kept state, the divergence cleared
    held_checkpoint = t.save_checkpoint()
    t.set(lr=0.01)
    t.resume()
    assert w.join() == "done"
    after = w.points[3:]
    assert [s for s, _ in w.statuses][-2:] == ["running", "done"]
    assert t.diverged_node is None and t.diverged_step is None
    assert [p["step"] for p in w.points] == list(range(1, 61))  # the diverged step not counted
    assert after[0]["loss"] == before[-1]["loss"]  # the same parameters, the same batch
    assert all(p["lr"] == 0.01 for p in after)
    assert all(math.isfinite(p["loss"]) and math.isfinite(p["grad_norm"]) for p in after)
    assert after[-1]["loss"] < after[0]["loss"] / 100

    # deterministic: by hand, and from the checkpoint taken while held, the same losses
    again = Trainer(DOC, ds, TrainConfig(**GRADUAL), hold_on_divergence=True)
    points: list[dict] = []
    while not again.held:
        points += again.step()
    again.set(lr=0.01)
    while not again.finished:
        points += again.step()
    assert points == w.points
    resumed = Trainer.from_checkpoint(
        DOC, ds, TrainConfig(**GRADUAL), held_checkpoint, hold_on_divergence=True
    )
    resumed.set(lr=0.01)
    tail: list[dict] = []
    assert resumed.run(on_points=tail.extend) == "done"
    assert [p["loss"] for p in tail] == [p["loss"] for p in after]


def test_resumed_with_a_smaller_lr_it_trains_to_a_good_fit():
    w = Watched(Trainer(DOC, dataset(), TrainConfig(**ABRUPT), hold_on_divergence=True))
    w.wait_held()
    assert w.t.diverged_step == 2 and len(w.points) == 1
    w.t.set(lr=0.05)
    w.t.resume()
    assert w.join() == "done"
    assert all(math.isfinite(p["loss"]) for p in w.points)
    assert w.points[-1]["train_loss"] < 0.01


def test_stop_while_held_ends_the_run_as_diverged():
    w = Watched(Trainer(DOC, dataset(), TrainConfig(**GRADUAL), hold_on_divergence=True))
    w.wait_held()
    reason = w.t.reason
    w.t.set(lr=0.01)  # changing settings while held is fine, and changes nothing yet
    w.t.stop()
    assert w.join() == "diverged"
    t = w.t
    assert t.finished and not t.held
    assert (t.status, t.reason, t.diverged_node, t.diverged_step) == ("diverged", reason, "cost", 4)
    assert [s for s, _ in w.statuses] == ["running", "diverged"]  # never `stopped`
    assert len(w.points) == 3 and t.step() == []


def test_steps_from_a_held_run_then_pause_and_a_new_divergence_holds_again():
    w = Watched(Trainer(DOC, dataset(), TrainConfig(**GRADUAL), hold_on_divergence=True))
    w.wait_held()
    t = w.t
    t.request_steps(1)  # the same lr: step 4 redoes step 3's update, step 5 diverges
    w.wait(lambda: len(w.points) == 4)
    w.wait(lambda: t.status == "paused")
    assert t.diverged_node is None and not t.held
    assert w.points[3]["step"] == 4 and w.points[3]["loss"] == w.points[2]["loss"]
    t.request_steps(10)
    w.wait(lambda: t.held)
    assert (t.status, t.diverged_step, len(w.points)) == ("diverged", 5, 4)
    time.sleep(0.05)
    assert len(w.points) == 4, "the steps asked for before diverging are dropped"
    assert [s for s, _ in w.statuses] == ["running", "diverged", "paused", "diverged"]
    t.set(lr=0.01)
    t.request_steps(2)
    w.wait(lambda: len(w.points) == 6 and t.status == "paused")
    assert all(math.isfinite(p["loss"]) for p in w.points)
    t.stop()
    assert w.join() == "stopped"  # no longer held: a plain stop


@pytest.mark.parametrize("hold", [False, True])
def test_a_run_that_does_not_diverge_is_the_same_with_or_without_the_option(hold):
    ds = load_dataset("spiral", n=90)
    doc = {
        "version": 1,
        "nodes": [
            {"id": "x", "op": "input", "params": {"shape": [2]}},
            {"id": "y", "op": "target", "params": {"shape": [], "dtype": "int"}},
            {"id": "l1", "op": "linear", "params": {"out_features": 8}, "inputs": {"x": "x"}},
            {"id": "h", "op": "tanh", "inputs": {"x": "l1"}},
            {"id": "l2", "op": "linear", "params": {"out_features": 3}, "inputs": {"x": "h"}},
            {"id": "c", "op": "cross_entropy", "inputs": {"logits": "l2", "target": "y"}},
        ],
    }
    cfg = TrainConfig(epochs=5, batch_size=16, optimizer="adam", lr=0.05, seed=3)
    plain: list[dict] = []
    Trainer(doc, ds, cfg).run(on_points=plain.extend)
    points: list[dict] = []
    assert Trainer(doc, ds, cfg, hold_on_divergence=hold).run(on_points=points.extend) == "done"
    assert points == plain
