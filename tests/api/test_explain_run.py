"""POST /api/explain with `run_id`: one sample through a run's trained parameters, the raw
sample normalised like the run's training data; GET /api/runs/{id}/state says how."""

from __future__ import annotations

import io
import json
import sqlite3
from typing import Any

import numpy as np
import pytest

from blockprop.service.store import Store

from .conftest import XOR_DATA, XOR_GRAPH, Api, assert_error, graph

SHORT = {"epochs": 60, "optimizer": "adam", "lr": 0.05}
SAMPLE = {"x": [[0.7, -0.4]], "y": [[1.0]]}


def close(a: Any, b: Any) -> None:
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-9, atol=1e-12)


def trained_run(api, dataset: dict[str, Any] | None = None) -> tuple[dict, dict]:
    run = api.start_run(train=SHORT, dataset=dataset)
    done = api.wait_status(run, {"done"})
    assert done["status"] == "done", done
    state = api.get(f"/api/runs/{run['id']}/state")
    assert state.status_code == 200, state.text
    return run, state.json()


def explain(api, **body: Any) -> dict[str, Any]:
    r = api.post("/api/explain", json={"graph": XOR_GRAPH, "inputs": SAMPLE, **body})
    assert r.status_code == 200, r.text
    return r.json()


def assert_same_as_evaluate(api, ex: dict, state: dict, fed: dict) -> None:
    """explain's numbers are evaluate's on the graph with the run's state and `fed`."""
    ev = api.post(
        "/api/evaluate",
        json={"graph": {**XOR_GRAPH, "state": state}, "inputs": fed, "backward": True},
    )
    assert ev.status_code == 200, ev.text
    ev = ev.json()
    assert ex["loss"] == pytest.approx(ev["loss"], rel=1e-12)
    for n in ex["nodes"]:
        close(n["outputs"][0]["value"], ev["values"][n["id"]][0])
        if n["id"] in ev["grads"]:
            close(n["outputs"][0]["grad"], ev["grads"][n["id"]][0])
    for nid, p in ev["param_grads"].items():
        for name, g in p.items():
            close(ex["param_grads"][nid][name], g)
    for nid, p in state.items():
        for name, w in p.items():
            close(ex["state"][nid][name], w)


def test_explain_with_a_trained_run_normalises_the_raw_sample(runs_api):
    run, st = trained_run(runs_api)
    norm = st["normalized"]
    assert set(norm) == {"x"} and len(norm["x"]["mean"]) == len(norm["x"]["std"]) == 2
    assert any(abs(m) > 1e-6 for m in norm["x"]["mean"])  # a real transform, not the identity

    ex = explain(runs_api, run_id=run["id"])
    assert ex["run"] == {"id": run["id"], "step": st["step"], "normalized": norm}
    assert ex["inputs"] == SAMPLE  # raw, as posted
    xn = (np.array(SAMPLE["x"]) - norm["x"]["mean"]) / norm["x"]["std"]
    x = next(n for n in ex["nodes"] if n["id"] == "x")
    close(x["outputs"][0]["value"], xn[0])  # the graph saw the normalised sample
    assert_same_as_evaluate(runs_api, ex, st["state"], {"x": xn.tolist(), "y": SAMPLE["y"]})

    seeded = explain(runs_api)
    assert "run" not in seeded or seeded["run"] is None
    assert seeded["loss"] != pytest.approx(ex["loss"], rel=1e-3)

    # defaults are raw too: the server's sample goes through the same transform
    r = runs_api.post("/api/explain", json={"graph": XOR_GRAPH, "run_id": run["id"]})
    assert r.status_code == 200, r.text
    d = r.json()
    dx = next(n for n in d["nodes"] if n["id"] == "x")["outputs"][0]["value"]
    close(dx, (np.array(d["inputs"]["x"][0]) - norm["x"]["mean"]) / norm["x"]["std"])


def test_a_run_without_normalisation_explains_the_sample_as_is(runs_api):
    run, st = trained_run(runs_api, {**XOR_DATA, "normalize": False})
    assert st["normalized"] == {}
    ex = explain(runs_api, run_id=run["id"])
    assert ex["run"] == {"id": run["id"], "step": st["step"], "normalized": {}}
    assert_same_as_evaluate(runs_api, ex, st["state"], SAMPLE)


def test_a_live_run_and_the_same_step_again(runs_api):
    """While the run trains on, `run_step` brings back the parameters explained at that step
    (a follower sees the teacher's numbers)."""
    run = runs_api.start_run()
    runs_api.wait_steps(run, 50)
    first = explain(runs_api, run_id=run["id"])
    step = first["run"]["step"]
    assert step >= 50
    runs_api.wait_steps(run, step + 200)
    again = explain(runs_api, run_id=run["id"], run_step=step)
    assert again["run"]["step"] == step
    assert again["loss"] == first["loss"]
    assert again["state"] == first["state"]
    moved = explain(runs_api, run_id=run["id"])
    assert moved["run"]["step"] > step and moved["loss"] != first["loss"]
    # a step the server never served: the current parameters, and the answer says which
    other = explain(runs_api, run_id=run["id"], run_step=step + 1)
    assert other["run"]["step"] > step + 1
    runs_api.control(run, "stop")


def test_explain_run_errors(runs_api):
    r = runs_api.post(
        "/api/explain", json={"graph": XOR_GRAPH, "inputs": SAMPLE, "run_id": "nosuchrun"}
    )
    assert_error(r, 404, "not_found")
    run, _ = trained_run(runs_api)

    wider = graph()
    wider["nodes"][2]["params"] = {"out_features": 8}
    r = runs_api.post("/api/explain", json={"graph": wider, "inputs": SAMPLE, "run_id": run["id"]})
    err = assert_error(r, 422, "state_mismatch")
    assert err["nodes"] == ["hidden"] and "'hidden.W'" in err["message"]
    assert "[4, 2]" in err["message"] and "[8, 2]" in err["message"]

    extra = graph()
    extra["nodes"][4]["inputs"] = {"x": "h2"}
    extra["nodes"].insert(
        4, {"id": "h2", "op": "linear", "params": {"out_features": 4}, "inputs": {"x": "h"}}
    )
    r = runs_api.post("/api/explain", json={"graph": extra, "inputs": SAMPLE, "run_id": run["id"]})
    err = assert_error(r, 422, "state_mismatch")
    assert err["nodes"] == ["h2"] and "'h2.W'" in err["message"]

    renamed = graph()
    renamed["nodes"][0]["id"] = "inp"
    renamed["nodes"][2]["inputs"] = {"x": "inp"}
    r = runs_api.post(
        "/api/explain",
        json={
            "graph": renamed,
            "inputs": {"inp": SAMPLE["x"], "y": SAMPLE["y"]},
            "run_id": run["id"],
        },
    )
    err = assert_error(r, 422, "state_mismatch")
    assert "input 'x'" in err["message"]

    r = runs_api.post(
        "/api/explain", json={"graph": XOR_GRAPH, "run_id": run["id"], "run_step": -1}
    )
    assert_error(r, 422)


def test_a_run_without_state_is_409(private_server, tmp_path):
    db = tmp_path / "nostate.sqlite"
    store = Store(db)
    store.create_run("r1", None, "r", XOR_GRAPH, XOR_DATA, {"epochs": 1}, "interrupted", "h")
    store.close()
    server = private_server(database=db)
    api = Api(server.url)
    try:
        r = api.post("/api/explain", json={"graph": XOR_GRAPH, "run_id": "r1"})
        assert_error(r, 409, "no_state")
        assert_error(api.get("/api/runs/r1/state"), 404, "no_state")
    finally:
        api.close()


def test_a_checkpoint_from_before_the_record_recomputes_the_transform(runs_api, runs_server):
    """Checkpoints written before normalisation was recorded: it is recomputed from the run's
    dataset spec (the split is seeded), and comes out the same."""
    run, st = trained_run(runs_api)
    with sqlite3.connect(runs_server.database, timeout=10) as db:
        (data,) = db.execute(
            "SELECT data FROM checkpoints WHERE run_id = ?", (run["id"],)
        ).fetchone()
        npz = np.load(io.BytesIO(data), allow_pickle=False)
        arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(str(arrays["meta"]))
        assert meta["normalized"] == st["normalized"]
        del meta["normalized"]
        arrays["meta"] = np.array(json.dumps(meta))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        db.execute("UPDATE checkpoints SET data = ? WHERE run_id = ?", (buf.getvalue(), run["id"]))
    # committed as the block ends: the server reads it from here on
    again = runs_api.get(f"/api/runs/{run['id']}/state").json()
    assert again["normalized"]["x"]["mean"] == pytest.approx(st["normalized"]["x"]["mean"])
    assert again["normalized"]["x"]["std"] == pytest.approx(st["normalized"]["x"]["std"])
    ex = explain(runs_api, run_id=run["id"])
    assert ex["run"]["normalized"]["x"]["std"] == pytest.approx(st["normalized"]["x"]["std"])
