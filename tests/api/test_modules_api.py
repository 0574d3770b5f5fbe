"""Graphs with modules through the API: validate, evaluate (values and parameters by flat id
``b1/l``), explain blocks, export, and the node cap counted with modules expanded."""

from __future__ import annotations

from .conftest import assert_error

BLOCK = {
    "inputs": ["x"],
    "outputs": {"y": "t"},
    "nodes": [
        {"id": "l", "op": "linear", "params": {"out_features": 2}, "inputs": {"x": "x"}},
        {"id": "t", "op": "tanh", "inputs": {"x": "l"}},
    ],
}


def doc(modules=None, n=2):
    nodes = [{"id": "x", "op": "input", "params": {"shape": [2]}}]
    for i in range(1, n + 1):
        src = "x" if i == 1 else f"b{i - 1}"
        nodes.append(
            {"id": f"b{i}", "op": "module", "params": {"module": "block"}, "inputs": {"x": src}}
        )
    return {"version": 1, "modules": modules or {"block": BLOCK}, "nodes": nodes}


def test_validate_and_evaluate_address_inner_nodes_by_instance(api):
    body = api.post("/api/validate", json=doc()).json()
    assert body["ok"] and body["order"] == ["x", "b1/l", "b1/t", "b2/l", "b2/t"]
    r = api.post("/api/evaluate", json={"graph": doc(), "inputs": {"x": [[0.5, 1.0]]}})
    assert r.status_code == 200, r.text
    out = r.json()
    assert {"b1/t", "b2/t"} <= set(out["values"]) and set(out["state"]) == {"b1/l", "b2/l"}


def test_module_errors_keep_the_error_shape(api):
    cyc = {
        "block": {
            **BLOCK,
            "nodes": [
                {**BLOCK["nodes"][0]},
                {"id": "t", "op": "module", "params": {"module": "block"}, "inputs": {"x": "l"}},
            ],
        }
    }
    body = api.post("/api/validate", json=doc(cyc)).json()
    (e,) = body["errors"]
    assert e["code"] == "module_cycle" and e["nodes"] == ["block", "block"]
    r = api.post("/api/evaluate", json={"graph": doc(cyc), "inputs": {"x": [[0.5, 1.0]]}})
    assert_error(r, 422, "module_cycle")


def test_explain_and_export_understand_modules(api):
    ex = api.post("/api/explain", json={"graph": doc()}).json()
    assert [b["id"] for b in ex["blocks"]] == ["b1", "b2"]
    src = api.post("/api/export/pytorch", json={"graph": doc()})
    assert src.status_code == 200 and "class Block(nn.Module):" in src.text


def test_the_node_cap_counts_modules_expanded(api):
    nested = {"block": BLOCK}
    for i in range(1, 11):  # 2**10 copies of the block
        nested[f"m{i}"] = {
            "inputs": ["x"],
            "outputs": {"y": "b"},
            "nodes": [
                {
                    "id": "a",
                    "op": "module",
                    "params": {"module": f"m{i - 1}" if i > 1 else "block"},
                    "inputs": {"x": "x"},
                },
                {
                    "id": "b",
                    "op": "module",
                    "params": {"module": f"m{i - 1}" if i > 1 else "block"},
                    "inputs": {"x": "a"},
                },
            ],
        }
    d = doc(nested, n=1)
    d["nodes"][1]["params"]["module"] = "m10"
    r = api.post("/api/validate", json=d)
    err = assert_error(r, 413, "too_large")
    assert "expanded" in err["message"]


def test_a_run_trains_a_graph_with_modules(api):
    from blockprop.examples import get_example

    ex = get_example("residual_modules")
    run = api.start_run(train={**ex["train"], "epochs": 2}, doc=ex["graph"], dataset=ex["dataset"])
    done = api.wait_status(run, {"done", "failed", "diverged"}, timeout=60)
    assert done["status"] == "done", done
    state = api.get(f"/api/runs/{run['id']}/state").json()
    assert set(state["state"]) == {"b1/l", "b2/l", "b3/l", "l0", "out"}
