"""`Trainer.advance`: cooperative training for a worker that hosts many runs — it never
waits, says when the run wants the CPU again, and ends up exactly where `run()` does."""

from __future__ import annotations

import math
import time

from blockprop.engine.data import load_dataset
from blockprop.engine.trainer import Trainer


def _trainer(**config):
    from blockprop.examples import get_example

    ex = get_example("xor")
    ds = load_dataset("xor", n=64, noise=0.1)
    return Trainer(ex["graph"], ds, {"epochs": 50, "optimizer": "adam", "lr": 0.05, **config})


def _drive(trainer: Trainer) -> list[dict]:
    points: list[dict] = []
    while not trainer.finished:
        wait = trainer.advance(0.002, on_points=points.extend)
        assert wait == 0.0 or trainer.finished, wait
    return points


def test_advance_in_slices_ends_exactly_where_run_does():
    a = _trainer()
    sliced = _drive(a)
    straight: list[dict] = []
    whole = _trainer()
    whole.run(on_points=straight.extend)
    strip = lambda ps: [{k: v for k, v in p.items() if k != "t"} for p in ps]  # noqa: E731
    assert strip(sliced) == strip(straight)
    assert str(a.status) == str(whole.status) == "done"
    assert a.state() == whole.state()  # bit for bit


def test_a_paced_run_says_when_its_next_step_is_due():
    t = _trainer(speed=20)
    wait = t.advance(1.0)  # what is due at once (no more than a period's catching up)
    assert 0 < wait <= 0.05 + 1e-3 and t.step_count in (1, 2)
    steps = t.step_count
    assert t.advance(1.0) > 0 and t.step_count == steps  # nothing due yet: no step taken


def test_paused_waits_for_control_and_stop_ends_it():
    t = _trainer()
    t.pause()
    assert t.advance(0.01) == math.inf and t.step_count == 0 and str(t.status) == "paused"
    t.request_steps(3)
    while t.step_count < 3:
        t.advance(0.01)
    assert t.advance(0.01) == math.inf and t.step_count == 3
    t.stop()
    assert t.advance(0.01) == math.inf and t.finished and str(t.status) == "stopped"


def test_a_slice_keeps_to_its_budget():
    t = _trainer(epochs=1_000_000)
    t0 = time.process_time()
    t.advance(0.0)  # a zero budget still takes the step that is due
    assert t.step_count == 1
    t.advance(0.02)
    assert t.step_count > 1 and time.process_time() - t0 < 5  # it returned


def test_an_exception_in_a_step_fails_the_run_only():
    t = _trainer()

    def boom(points):
        raise RuntimeError("callback broke")

    assert t.advance(0.01, on_points=boom) == math.inf
    assert str(t.status) == "failed" and "callback broke" in t.reason
    assert isinstance(t.error, RuntimeError)
