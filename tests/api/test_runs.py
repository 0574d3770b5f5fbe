"""Training runs over REST: create, status, control, live settings, metrics, state, limits."""

import asyncio
import time

from .conftest import XOR_DATA, XOR_GRAPH, Api, assert_error, connect, graph, recv_json, recv_until

SHORT = {"epochs": 40, "optimizer": "adam", "lr": 0.05}


def steps_of(api: Api, run: dict) -> list[int]:
    return [p["step"] for p in api.get(f"/api/runs/{run['id']}/metrics").json()["points"]]


def test_a_run_trains_streams_metrics_and_finishes(runs_api):
    run = runs_api.start_run(train=SHORT)
    assert run["status"] in ("running", "done") and run["edit_token"]
    assert run["config"]["epochs"] == 40 and run["dataset"]["name"] == "xor"
    done = runs_api.wait_status(run, {"done"})
    assert done["status"] == "done" and done["reason"] == "finished 40 epochs"
    assert done["step"] == 40 and done["finished_at"] >= done["started_at"]
    metrics = runs_api.get(f"/api/runs/{run['id']}/metrics").json()
    points = metrics["points"]
    assert [p["step"] for p in points] == list(range(1, 41))
    assert all(p["epoch"] == p["step"] for p in points)  # full batch: one step per epoch
    assert "test_loss" in points[-1] and "accuracy" in points[-1]
    assert metrics["last_seq"] == done["last_seq"] >= 1
    later = runs_api.get(f"/api/runs/{run['id']}/metrics", params={"since": metrics["last_seq"]})
    assert later.json()["points"] == []
    state = runs_api.get(f"/api/runs/{run['id']}/state").json()
    assert state["step"] == 40 and set(state["state"]) == {"hidden", "score"}
    # the trained state evaluates to the final loss when put back into the graph
    assert len(state["state"]["hidden"]["W"]) == 4


def test_a_run_from_a_stored_graph(runs_api):
    g = runs_api.post("/api/graphs", json={"graph": XOR_GRAPH}).json()
    r = runs_api.post("/api/runs", json={"graph_id": g["id"], "dataset": XOR_DATA, "train": SHORT})
    assert r.status_code == 201, r.text
    run = r.json()
    runs_api.runs.append((run["id"], run["edit_token"]))
    assert run["graph_id"] == g["id"]
    assert runs_api.wait_status(run, {"done"})["status"] == "done"


def test_runs_of_a_graph_are_listed_newest_first(runs_api):
    g = runs_api.post("/api/graphs", json={"graph": XOR_GRAPH}).json()
    first = runs_api.start_run(train=SHORT, graph_id=g["id"])  # the edited graph, filed under g
    edited = graph(name="edited")
    second = runs_api.start_run(train=SHORT, graph_id=g["id"], doc=edited)
    other = runs_api.start_run(train=SHORT)
    listed = runs_api.get("/api/runs", params={"graph_id": g["id"]}).json()
    assert [r["id"] for r in listed] == [second["id"], first["id"]]
    assert listed[0]["graph_id"] == g["id"] and "edit_token" not in listed[0]
    both = runs_api.get("/api/runs", params={"graph_id": g["id"], "ids": other["id"]}).json()
    assert {r["id"] for r in both} == {first["id"], second["id"], other["id"]}
    by_ids = runs_api.get("/api/runs", params={"ids": f"{other['id']},nope"}).json()
    assert [r["id"] for r in by_ids] == [other["id"]]
    assert runs_api.get("/api/runs", params={"graph_id": "nope"}).json() == []
    assert_error(runs_api.get("/api/runs"), 422, "invalid_request")


def test_speed_slows_a_run_down_and_changes_live(runs_api):
    """At most `speed` steps a second (a loaded machine can only make it fewer); set to 0 live,
    the run goes far beyond that."""
    t0 = time.monotonic()  # before the run exists: every step it reports comes after
    run = runs_api.start_run(train={**LONG, "speed": 20})
    slow = runs_api.wait_steps(run, 10)
    window = time.monotonic() - t0
    assert 10 <= slow["step"] <= 20 * window + 2, (slow["step"], window)
    h = {"X-Edit-Token": run["edit_token"]}
    r = runs_api.patch(f"/api/runs/{run['id']}", json={"speed": 0}, headers=h)
    assert r.status_code == 200 and r.json()["config"]["speed"] == 0
    # 1000 steps: 50 s at 20 steps/s, a fraction of a second unpaced
    fast = runs_api.wait_steps(run, slow["step"] + 1000, timeout=25)
    assert fast["step"] >= slow["step"] + 1000
    assert_error(runs_api.patch(f"/api/runs/{run['id']}", json={"speed": -1}, headers=h), 422)


def test_create_errors(runs_api):
    def post(**body):
        return runs_api.post("/api/runs", json={"dataset": XOR_DATA, **body})

    assert_error(post(train=SHORT), 422, "invalid_request")  # no graph
    assert_error(post(graph=XOR_GRAPH, graph_id="x"), 404, "not_found")  # files under x
    assert_error(post(graph_id="missing"), 404, "not_found")
    err = assert_error(post(graph=XOR_GRAPH, train={"epochs": 2, "warp": 9}), 422, "bad_config")
    assert "warp" in err["message"]
    err = assert_error(post(graph=XOR_GRAPH, train={"lr": -1}), 422, "bad_config")
    assert "lr" in err["message"]
    err = assert_error(post(graph=XOR_GRAPH, train={"max_steps": 10**9}), 422, "too_large")
    assert "BLOCKPROP_MAX_STEPS" in err["message"]
    r = runs_api.post("/api/runs", json={"graph": XOR_GRAPH, "dataset": {"name": "nope"}})
    assert_error(r, 422, "unknown_dataset")
    r = runs_api.post(
        "/api/runs", json={"graph": XOR_GRAPH, "dataset": {"name": "xor", "turns": 2}}
    )
    assert_error(r, 422, "bad_param")
    r = runs_api.post("/api/runs", json={"graph": XOR_GRAPH, "dataset": {"name": "upload-x"}})
    assert_error(r, 422, "unknown_dataset")


def test_a_graph_that_does_not_fit_the_dataset_is_422_naming_the_node(runs_api):
    nodes = [dict(n) for n in XOR_GRAPH["nodes"]]
    nodes[0] = {**nodes[0], "params": {"shape": [3]}}
    r = runs_api.post(
        "/api/runs", json={"graph": graph(nodes=nodes), "dataset": XOR_DATA, "train": SHORT}
    )
    err = assert_error(r, 422, "bad_feed")
    assert err["nodes"] == ["x"] and "2 features" in err["message"]
    bad = graph(nodes=[{"id": "a", "op": "tanh", "inputs": {"x": "a"}}])
    assert_error(runs_api.post("/api/runs", json={"graph": bad, "dataset": XOR_DATA}), 422)


def test_too_much_memory_is_refused_before_any_worker_starts(runs_api):
    doc = graph(
        nodes=[
            {"id": "x", "op": "input", "params": {"shape": [2]}},
            {
                "id": "l",
                "op": "linear",
                "params": {"out_features": 200_000_000},
                "inputs": {"x": "x"},
            },
        ]
    )
    r = runs_api.post("/api/runs", json={"graph": doc, "dataset": XOR_DATA})
    assert_error(r, 422, "too_large")


def test_pause_step_resume_stop(runs_api):
    run = runs_api.start_run(paused=True)
    assert run["status"] == "paused" and run["step"] == 0
    r = runs_api.control(run, "step", json={"n": 5})
    assert r.status_code == 200
    paused = runs_api.wait_steps(run, 5)
    assert paused["step"] == 5
    time.sleep(0.3)
    assert runs_api.get(f"/api/runs/{run['id']}").json()["step"] == 5
    assert runs_api.get(f"/api/runs/{run['id']}").json()["status"] == "paused"
    assert runs_api.control(run, "step").status_code == 200  # n defaults to 1
    assert runs_api.wait_steps(run, 6)["step"] == 6
    assert runs_api.control(run, "resume").json()["status"] == "running"
    runs_api.wait_steps(run, 50)
    assert runs_api.control(run, "pause").json()["status"] == "paused"
    step = runs_api.get(f"/api/runs/{run['id']}").json()["step"]
    time.sleep(0.3)
    assert runs_api.get(f"/api/runs/{run['id']}").json()["step"] == step
    assert steps_of(runs_api, run) == list(range(1, step + 1))
    stopped = runs_api.control(run, "stop").json()
    assert stopped["status"] == "stopped"


def test_stop_while_running_ends_at_the_last_step(runs_api):
    run = runs_api.start_run()
    runs_api.wait_steps(run, 100)
    r = runs_api.control(run, "stop")
    assert r.json()["status"] == "stopped", r.json()
    step = r.json()["step"]
    assert steps_of(runs_api, run)[-1] == step
    assert runs_api.get(f"/api/runs/{run['id']}/state").json()["step"] == step


def test_control_needs_the_edit_token(runs_api):
    run = runs_api.start_run()
    for action in ("pause", "resume", "step", "stop"):
        assert_error(runs_api.post(f"/api/runs/{run['id']}/{action}"), 403, "edit_token_required")
        r = runs_api.post(f"/api/runs/{run['id']}/{action}", headers={"X-Edit-Token": "no"})
        assert_error(r, 403, "bad_edit_token")
    assert_error(runs_api.patch(f"/api/runs/{run['id']}", json={"lr": 0.1}), 403)
    # reading needs no token
    assert runs_api.get(f"/api/runs/{run['id']}").status_code == 200
    assert runs_api.get(f"/api/runs/{run['id']}/metrics").status_code == 200
    assert runs_api.get(f"/api/runs/{run['id']}").json()["status"] == "running"


def test_patch_changes_the_learning_rate_live(runs_api):
    run = runs_api.start_run(train={**LONG, "optimizer": "sgd", "lr": 0.01})
    runs_api.wait_steps(run, 20)
    h = {"X-Edit-Token": run["edit_token"]}
    r = runs_api.patch(f"/api/runs/{run['id']}", json={"lr": 0.5}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["config"]["lr"] == 0.5
    changed_at = r.json()["step"]
    runs_api.wait_steps(run, changed_at + 200)
    points = runs_api.get(f"/api/runs/{run['id']}/metrics").json()["points"]
    assert points[0]["lr"] == 0.01 and points[-1]["lr"] == 0.5
    assert_error(runs_api.patch(f"/api/runs/{run['id']}", json={"epochs": 3}, headers=h), 422)
    assert_error(runs_api.patch(f"/api/runs/{run['id']}", json={}, headers=h), 422)
    assert_error(runs_api.patch(f"/api/runs/{run['id']}", json={"lr": -1}, headers=h), 422)
    err = assert_error(
        runs_api.patch(f"/api/runs/{run['id']}", json={"momentum": 0.5}, headers=h), 422
    )
    assert "momentum" in err["message"]


LONG = {"epochs": 1_000_000, "optimizer": "adam", "lr": 0.01}


def test_finished_runs_refuse_control_with_409(runs_api):
    run = runs_api.start_run(train={"epochs": 3})
    runs_api.wait_status(run, {"done"})
    assert_error(runs_api.control(run, "pause"), 409, "not_live")
    assert_error(runs_api.control(run, "resume"), 409, "not_resumable")
    assert_error(runs_api.control(run, "step"), 409)
    h = {"X-Edit-Token": run["edit_token"]}
    assert_error(runs_api.patch(f"/api/runs/{run['id']}", json={"lr": 0.1}, headers=h), 409)


def test_stop_after_the_run_has_ended_returns_its_final_state(runs_api):
    # a Stop that crosses the run's own finish is not an error: the run stays `done`
    run = runs_api.start_run(train={"epochs": 3})
    runs_api.wait_status(run, {"done"})
    r = runs_api.control(run, "stop")
    assert r.status_code == 200 and r.json()["status"] == "done"
    assert runs_api.get(f"/api/runs/{run['id']}").json()["status"] == "done"


def test_unknown_run_is_404(runs_api):
    for path in ("", "/metrics", "/state"):
        assert_error(runs_api.get(f"/api/runs/nope{path}"), 404, "not_found")
    assert_error(runs_api.post("/api/runs/nope/pause", headers={"X-Edit-Token": "x"}), 404)


def test_divergence_is_reported_with_the_node(runs_api):
    run = runs_api.start_run(
        train={"epochs": 100, "optimizer": "sgd", "lr": 1e6},
        doc=get_regression_graph(),
        dataset={"name": "linear", "n": 50},
    )
    final = runs_api.wait_status(run, {"diverged", "done"})
    assert final["status"] == "diverged", final
    assert final["diverged_node"] and final["diverged_node"] in final["reason"]


def get_regression_graph():
    from blockprop.examples import get_example

    return get_example("linear_regression")["graph"]


def test_a_run_on_an_uploaded_dataset(runs_api):
    csv = "a,b,label\n" + "".join(f"{i % 7 / 7},{(i * 3) % 5 / 5},{i % 2}\n" for i in range(60))
    up = runs_api.post("/api/datasets", content=csv, headers={"Content-Type": "text/csv"}).json()
    run = runs_api.start_run(train={"epochs": 5}, dataset={"name": up["id"]})
    assert runs_api.wait_status(run, {"done"})["status"] == "done"


def test_beyond_the_cap_a_run_waits_in_the_queue_and_starts_when_a_place_frees(private_server):
    server = private_server(env={"BLOCKPROP_MAX_RUNS": "1"})
    api = Api(server.url)
    try:
        first = api.start_run()
        second = api.start_run(train=SHORT)  # 201, not refused: it waits
        assert (second["status"], second["live"]) == ("queued", False), second
        assert second["queue"]["position"] == 1 and second["queue"]["ahead"] == 0
        assert "waiting" in second["reason"]
        assert api.get(f"/api/runs/{second['id']}").json()["queue"]["position"] == 1

        async def watch() -> list[dict]:
            async with connect(api, second) as ws:
                hello = await recv_json(ws)
                assert hello["status"] == "queued" and hello["run"]["queue"]["position"] == 1
                api.control(first, "stop")  # the place frees: the queued run starts
                return await recv_until(
                    ws, lambda f: f["type"] == "status" and f["status"] == "done"
                )

        frames = asyncio.run(watch())
        statuses = [f["status"] for f in frames if f["type"] == "status"]
        # latest-wins status frames: a short run may be seen done without its running frame
        assert statuses[-1] == "done", statuses
        assert set(statuses) <= {"queued", "starting", "running", "done"}, statuses
        assert any(f["type"] == "metrics" for f in frames)
    finally:
        api.close()


def test_the_wall_time_limit_stops_a_run(private_server):
    server = private_server(env={"BLOCKPROP_MAX_RUN_SECONDS": "1"})
    api = Api(server.url)
    try:
        run = api.start_run()
        final = api.wait_status(run, {"stopped", "done", "failed"}, timeout=10)
        assert final["status"] == "stopped" and "time limit" in final["reason"]
    finally:
        api.close()


def test_a_runs_state_holds_batch_norms_running_statistics(runs_api):
    """Running statistics are trained state: the run's state carries them, moved by
    training, and explain with the run's parameters accepts them."""
    from blockprop.examples import get_example

    doc = get_example("batch_norm_mlp")["graph"]
    data = {"name": "digits", "n": 200, "normalize": False}
    run = runs_api.start_run(train={"epochs": 2, "batch_size": 32}, doc=doc, dataset=data)
    assert runs_api.wait_status(run, {"done"})["status"] == "done"
    state = runs_api.get(f"/api/runs/{run['id']}/state").json()["state"]
    assert set(state["bn"]) == {"gamma", "beta", "running_mean", "running_var"}
    assert any(v != 0.0 for v in state["bn"]["running_mean"])
    r = runs_api.post("/api/explain", json={"graph": doc, "run_id": run["id"]})
    assert r.status_code == 200, r.text
