"""Random DAGs (fan-out, Duplicate, Add, Max, Linear, activations, several costs) pass
gradcheck: backward agrees with central differences for every value and parameter."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from blockprop.engine import gradcheck, validate

from .dags import dags


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(dags())
def test_random_dags_pass_gradcheck(case):
    d, feeds = case
    assert validate(d).ok
    errors = gradcheck(d, feeds)
    # every fed float value, every function node and every parameter was checked
    functions = {n["id"] for n in d["nodes"] if n["op"] not in ("input", "target", "duplicate")}
    assert functions <= set(errors)
    assert {k for k in feeds if k.startswith("x")} <= set(errors)
    bad = {k: v for k, v in errors.items() if v > 1e-5}  # a wrong rule shows as O(1)
    assert not bad, (bad, d)
