"""The experiment travels whole: a graph document carries its dataset, training settings and,
once trained, the normalisation of its inputs; a run starts from a stored graph alone and
gives its document back with the trained state."""

from blockprop.examples import get_example, list_examples

from .conftest import XOR_DATA, XOR_GRAPH, assert_error

SHORT = {"epochs": 30, "optimizer": "adam", "lr": 0.05}
IRIS = {"name": "iris", "seed": 1, "test_fraction": 0.25}


def test_an_old_document_loads_unchanged(runs_api):
    g = runs_api.post("/api/graphs", json={"graph": XOR_GRAPH}).json()
    assert runs_api.get(f"/api/graphs/{g['id']}").json()["graph"] == XOR_GRAPH


def test_a_run_starts_from_a_stored_graph_alone_and_gives_its_document_back(runs_api):
    doc = {**XOR_GRAPH, "dataset": XOR_DATA, "train": SHORT}
    g = runs_api.post("/api/graphs", json={"graph": doc}).json()
    assert runs_api.get(f"/api/graphs/{g['id']}").json()["graph"] == doc
    r = runs_api.post("/api/runs", json={"graph_id": g["id"]})
    assert r.status_code == 201, r.text
    run = r.json()
    assert r.headers["location"] == f"/api/runs/{run['id']}"
    runs_api.runs.append((run["id"], run["edit_token"]))
    assert run["config"]["epochs"] == 30 and run["config"]["optimizer"] == "adam"
    assert run["dataset"]["name"] == XOR_DATA["name"]
    assert runs_api.wait_status(run, {"done"})["step"] == 30

    trained = runs_api.get(f"/api/runs/{run['id']}/graph").json()
    assert trained["nodes"] == XOR_GRAPH["nodes"]
    assert trained["train"] == SHORT  # what it was given: no defaults, no server step cap
    assert trained["dataset"]["name"] == XOR_DATA["name"]
    state = runs_api.get(f"/api/runs/{run['id']}/state").json()
    assert trained["state"] == state["state"]
    assert trained.get("normalization", {}) == state["normalized"]
    # the document alone trains again, inline, from where the run ended
    again = runs_api.post("/api/runs", json={"graph": trained})
    assert again.status_code == 201, again.text
    runs_api.runs.append((again.json()["id"], again.json()["edit_token"]))


def test_a_run_needs_a_dataset_from_the_body_or_the_document(runs_api):
    err = assert_error(runs_api.post("/api/runs", json={"graph": XOR_GRAPH}), 422)
    assert "dataset" in err["message"]
    bad = {**XOR_GRAPH, "train": {"lr": -1}}
    assert_error(runs_api.post("/api/graphs", json={"graph": bad}), 422, "invalid_request")
    body = {"graph": XOR_GRAPH, "dataset": XOR_DATA, "train": {"warp": 1}}
    assert_error(runs_api.post("/api/runs", json=body), 422, "bad_config")


def test_the_body_overrides_the_documents_experiment(runs_api):
    doc = {**XOR_GRAPH, "dataset": {"name": "nope"}, "train": {"epochs": 999}}
    r = runs_api.post("/api/runs", json={"graph": doc, "dataset": XOR_DATA, "train": SHORT})
    assert r.status_code == 201, r.text
    runs_api.runs.append((r.json()["id"], r.json()["edit_token"]))
    assert r.json()["config"]["epochs"] == 30


def test_examples_carry_dataset_and_settings_in_their_document(runs_api):
    for summary in list_examples():
        ex = runs_api.get(f"/api/examples/{summary['id']}").json()
        assert ex["graph"]["dataset"] == ex["dataset"] and ex["graph"]["train"] == ex["train"]
        # and the document is a valid request body as it is
        r = runs_api.post("/api/validate", json=ex["graph"])
        assert r.status_code == 200 and r.json()["ok"], (summary["id"], r.text)
    assert get_example("xor")["graph"]["dataset"]["name"] == "xor"


def test_a_fork_of_a_long_named_graph_is_still_a_valid_document(runs_api):
    g = runs_api.post("/api/graphs", json={"graph": {**XOR_GRAPH, "name": "n" * 200}}).json()
    fork = runs_api.post(f"/api/graphs/{g['id']}/fork").json()
    assert len(fork["graph"]["name"]) == 200 and fork["graph"]["name"].endswith(" (fork)")
