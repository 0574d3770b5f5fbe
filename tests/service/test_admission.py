"""Admission by capacity (service/admission.py): where a run goes, or that it must wait."""

from __future__ import annotations

import math

from blockprop.service.admission import Demand, Policy, WorkerLoad, estimate_cost, wait_estimate

POLICY = Policy(capacity=0.85, min_unpaced_share=0.05, memory_per_worker=1000)


def paced(speed: float, cost: float = 0.001, memory: int = 10, **kw) -> Demand:
    return Demand(speed=speed, cost=cost, memory=memory, **kw)


def test_a_paced_run_reserves_pace_times_cost_or_what_it_was_measured_to_take():
    assert paced(20, 0.001).reservation(0.05) == 0.02
    assert paced(20, 0.001, measured=0.1).reservation(0.05) == 0.1
    assert paced(20, 0.001, running=False).reservation(0.05) == 0.0  # paused: nothing
    assert Demand(0, 0.001, 10).reservation(0.05) == 0.05  # unpaced: its minimum share


def test_the_least_loaded_worker_with_room_is_chosen():
    a = WorkerLoad(0, [paced(200), paced(200)])  # 0.4
    b = WorkerLoad(1, [paced(100)])  # 0.1
    assert POLICY.place([a, b], paced(100)) == 1
    full = WorkerLoad(2, [paced(400), paced(400)])  # 0.8
    assert POLICY.place([full], paced(100)) is None  # 0.9 > 0.85: it waits
    assert POLICY.place([full], paced(50)) == 2  # 0.85 fits exactly


def test_an_idle_worker_takes_any_run_and_memory_is_a_limit_too():
    assert POLICY.place([WorkerLoad(0)], paced(2000)) == 0  # alone it trains, only slower
    paused = WorkerLoad(0, [paced(2000, running=False, memory=995)])
    assert POLICY.place([paused], paced(1)) is None  # its tensors leave no room
    assert POLICY.place([paused], paced(1, memory=5)) == 0


def test_the_share_of_the_pool_reserved():
    ws = [WorkerLoad(0, [paced(425)]), WorkerLoad(1)]
    assert math.isclose(POLICY.share(ws), 0.25)
    assert POLICY.share([]) == 0.0


def test_cost_estimates_grow_with_the_graph_and_the_batch():
    small = estimate_cost(nodes=6, params=1_000, numbers=500, batch=32)
    big = estimate_cost(nodes=6, params=300_000, numbers=5_000, batch=128)
    assert 0 < small < big < 1.0


def test_wait_estimates_follow_the_runs_that_end_first():
    ends = [30.0, 10.0, math.inf, 20.0]
    assert wait_estimate(1, ends) == 10.0
    assert wait_estimate(3, ends) == 30.0
    assert wait_estimate(4, ends) is None  # not enough foreseeable ends
    assert wait_estimate(0, ends) is None
