"""A server on PostgreSQL (`BLOCKPROP_DATABASE=postgresql://…`): graphs, a run trained to done,
its metrics, checkpoint and state, and all of it still there after a restart on the same
database. Skipped, saying why, where PostgreSQL cannot be started (tests/pg.py)."""

import sys
from pathlib import Path

from .conftest import RUN_ENV, XOR_DATA, XOR_GRAPH, Api

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pg import pg_database, pg_server  # noqa: E402, F401  (fixtures)

SHORT = {"epochs": 40, "optimizer": "adam", "lr": 0.05}


def test_a_server_on_postgresql_trains_and_keeps_its_runs(private_server, request):
    database = request.getfixturevalue("pg_database")  # skips where there is no PostgreSQL
    env = {**RUN_ENV, "BLOCKPROP_DATABASE": database}
    server = private_server(env=env)
    api = Api(server.url)
    try:
        g = api.post("/api/graphs", json={"graph": {**XOR_GRAPH, "name": "on postgres"}})
        assert g.status_code == 201, g.text
        graph = g.json()
        r = api.post(
            "/api/runs", json={"graph_id": graph["id"], "dataset": XOR_DATA, "train": SHORT}
        )
        assert r.status_code == 201, r.text
        run = r.json()
        api.runs.append((run["id"], run["edit_token"]))
        done = api.wait_status(run, {"done", "failed"}, timeout=60)
        assert done["status"] == "done" and done["step"] == 40, done
        metrics = api.get(f"/api/runs/{run['id']}/metrics").json()
        assert [p["step"] for p in metrics["points"]] == list(range(1, 41))
        assert metrics["last_seq"] == done["last_seq"] >= 1
        state = api.get(f"/api/runs/{run['id']}/state").json()
        assert state["step"] == 40
        listed = api.get("/api/runs", params={"graph_id": graph["id"]}).json()
        assert run["id"] in str(listed)
    finally:
        api.close()
    server.stop()

    again = private_server(env=env)  # a new process on the same database
    api = Api(again.url)
    try:
        assert api.get(f"/api/graphs/{graph['id']}").json()["name"] == "on postgres"
        old = api.get(f"/api/runs/{run['id']}").json()
        assert (old["status"], old["step"], old["last_seq"]) == ("done", 40, done["last_seq"])
        points = api.get(f"/api/runs/{run['id']}/metrics").json()["points"]
        assert [p["step"] for p in points] == list(range(1, 41))
    finally:
        api.close()
