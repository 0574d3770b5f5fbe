"""GET /api/ops tells editors what a port accepts and which dataset side feeds a variable
(issue 16: the editor's smart defaults read these, never op names)."""

from __future__ import annotations


def _ops(api) -> dict:
    r = api.get("/api/ops")
    assert r.status_code == 200
    return {o["name"]: o for o in r.json()}


def _port(op: dict, name: str) -> dict:
    return next(p for p in op["inputs"] if p["name"] == name)


def test_ports_say_whether_they_take_class_labels(api):
    ops = _ops(api)
    assert _port(ops["cross_entropy"], "target")["dtype"] == "any"
    assert _port(ops["cross_entropy"], "logits")["dtype"] == "float"
    assert _port(ops["nll"], "target")["dtype"] == "int"
    assert _port(ops["squared_error"], "target")["dtype"] == "float"


def test_variables_say_which_side_of_the_dataset_feeds_them(api):
    ops = _ops(api)
    assert ops["input"]["source"] == "input"
    assert ops["target"]["source"] == "target"
    assert ops["linear"]["source"] is None
    assert all(o["source"] is None for o in ops.values() if o["category"] != "variable")


def test_batch_norm_lists_its_buffers_like_its_trainables(api):
    ops = _ops(api)
    bn = ops["batch_norm"]
    assert [t["name"] for t in bn["parameters"]] == ["gamma", "beta"]
    assert bn["buffers"] == [
        {"name": "running_mean", "shape_rule": "[channels]", "fill": 0.0, "doc": "running mean"},
        {"name": "running_var", "shape_rule": "[channels]", "fill": 1.0, "doc": "running variance"},
    ]
    assert ops["linear"]["buffers"] == []


def test_spatial_params_say_they_take_one_entry_per_axis(api):
    conv = {p["name"]: p for p in _ops(api)["conv2d"]["params"]}
    assert conv["kernel_size"]["type"] == "ints" and conv["kernel_size"]["axes"] == 2
    assert conv["kernel_size"]["min"] == 1 and conv["kernel_size"]["default"] == 3
    assert conv["groups"]["type"] == "int" and conv["groups"]["axes"] is None
