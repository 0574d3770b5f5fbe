"""The notes' notation everywhere the API speaks: ȳ = G(x, w) is the model's prediction, y the
desired output (the Target), C(y, ȳ) the cost, g = ∂C/∂(a block's output) for one sample.

Walks `GET /api/ops` and every shipped example, so an op or an example added later is held
to the same convention.
"""

from __future__ import annotations

import re

import pytest

from blockprop.examples import get_example, list_examples

#: the prediction written as the desired output, the old convention
OLD = re.compile(
    r"(desired (output|probability|class label|value)|target),? ȳ|ȳ (is|as) the desired"
)
#: a block's output assigned to y (y is the desired output in the notes)
ASSIGNS_Y = re.compile(r"^\s*y(_\{?\w+\}?)?\s*=")
#: g, g_i, g_j, g^{(p)} used in a derivative
USES_G = re.compile(r"(?<![A-Za-z\\])g(?![A-Za-z])")
#: where g is defined: "g = …", "g_u = …", "g^{(p)} = …"
DEFINES_G = re.compile(r"(?<![A-Za-z\\])g(_\w|\^\{\(p\)\})?\s*=")


@pytest.fixture
def ops(api):
    r = api.get("/api/ops")
    assert r.status_code == 200
    return r.json()


def _texts(op: dict) -> list[str]:
    return [op["doc"], *(p["doc"] for p in op["inputs"]), *(p["doc"] for p in op["params"])]


def test_no_op_calls_the_prediction_the_desired_output(ops):
    bad = [(op["name"], t) for op in ops for t in _texts(op) if OLD.search(t)]
    assert not bad


def test_the_target_is_y(ops):
    target = next(op for op in ops if op["name"] == "target")
    assert ASSIGNS_Y.match(target["formula"]["forward"])
    assert "desired output y" in target["doc"]


def test_costs_compare_the_prediction_with_y(ops):
    costs = [op for op in ops if op["category"] == "cost"]
    assert costs
    for op in costs:
        ports = {p["name"] for p in op["inputs"]}
        symbols = op["explain"]["symbols"]
        fwd = op["formula"]["forward"]
        if "target" in ports:  # a cost comparing a prediction with the desired output
            assert fwd.startswith(r"C(y, \bar y) ="), (op["name"], fwd)
            assert symbols.get("target") == "y", op["name"]
            desc = next(p["doc"] for p in op["inputs"] if p["name"] == "target")
            assert re.search(r"\by\b", desc), (op["name"], desc)
        if "y" in ports:  # the port the prediction arrives at
            assert symbols.get("y") == r"\bar y", op["name"]
        # and on the block itself: the prediction reads ȳ, the desired output y
        labels = {p["name"]: p["label"] for p in op["inputs"]}
        assert labels.get("y", "ȳ") == "ȳ" and labels.get("target", "y") == "y", labels


def test_functions_compute_z_not_y(ops):
    for op in ops:
        if op["category"] == "function":
            assert not ASSIGNS_Y.match(op["formula"]["forward"]), op["name"]


def test_every_derivative_that_uses_g_defines_it(ops):
    for op in ops:
        back = op["formula"]["backward"]
        if USES_G.search(back):
            assert DEFINES_G.search(back), (op["name"], back)


def test_tie_rules_are_written_in_the_formulas(ops):
    by = {op["name"]: op for op in ops}
    assert r"\mathrm{ReLU}^\prime(0) = 0" in by["relu"]["formula"]["backward"]
    assert r"\text{a tie } a = b \text{ sends } g \text{ to } a" in by["max"]["formula"]["backward"]
    assert "first input" in by["max"]["doc"]


def test_explain_templates_default_to_z_for_outputs(ops):
    """Multi-output blocks name their outputs z_i (a block's output is never y)."""
    for op in ops:
        symbols = op["explain"]["symbols"]
        for name, sym in symbols.items():
            if name.startswith("ans"):
                assert not sym.startswith("y"), (op["name"], name, sym)


@pytest.mark.parametrize("eid", [e["id"] for e in list_examples()])
def test_examples_use_the_notes_notation(api, eid):
    r = api.get(f"/api/examples/{eid}")
    assert r.status_code == 200
    text = r.json()["description"]
    assert not OLD.search(text), text
    # a cost written out is C(y, ȳ) with ȳ the prediction, never "C = (y − ȳ)²"
    assert not re.search(r"\bC\s*=", text), text
    assert get_example(eid)["description"] == text
    if "ȳ" in text:
        assert re.search(r"ȳ = (G|σ|softmax|w)", text), text


def test_constants_are_drawn_unlike_observed_data(ops):
    by = {op["name"]: op["notation"] for op in ops}
    assert by["constant"] == "fixed"
    assert by["input"] == by["target"] == "observed"
    assert by["parameter"] == "trainable" and by["squared_error"] == "cost"
