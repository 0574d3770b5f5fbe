"""Datasets (list, sample, upload) and the shipped examples."""

from blockprop.engine.data import list_datasets

from .conftest import assert_error

CSV = "a,b,label\n" + "".join(f"{i % 7 / 7},{(i * 3) % 5 / 5},{i % 2}\n" for i in range(40))


def test_list_datasets(api):
    names = [d["name"] for d in api.get("/api/datasets").json()]
    assert names == [d["name"] for d in list_datasets()]
    assert {"spiral", "xor", "iris", "digits"} <= set(names)


def test_sample_a_dataset(api):
    r = api.get("/api/datasets/spiral", params={"n": 100, "noise": 0.1, "seed": 2, "turns": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["task"] == "classification" and body["features"] == 2
    assert len(body["x"]) == len(body["y"]) == len(body["split"]) == 100
    assert set(body["split"]) == {"train", "test"}
    assert (
        api.get("/api/datasets/spiral", params={"n": 100, "seed": 2, "turns": 2}).json()["x"]
        != body["x"]
    )


def test_sample_is_limited(api):
    body = api.get("/api/datasets/digits", params={"limit": 50}).json()
    assert len(body["x"]) == 50 and len(body["x"][0]) == 64


def test_unknown_dataset_is_404_and_bad_params_422(api):
    assert_error(api.get("/api/datasets/nope"), 404, "unknown_dataset")
    assert_error(api.get("/api/datasets/xor", params={"turns": 3}), 422, "bad_param")
    assert_error(api.get("/api/datasets/xor", params={"n": 1}), 422, "invalid_request")
    assert_error(api.get("/api/datasets/xor", params={"noise": "loud"}), 422)


def test_upload_csv_as_text_and_use_it(api):
    r = api.post("/api/datasets?name=mine", content=CSV, headers={"Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    up = r.json()
    assert up["id"].startswith("upload-") and up["rows"] == 40 and up["features"] == 2
    assert up["task"] == "classification" and up["classes"] == 2
    sample = api.get(f"/api/datasets/{up['id']}").json()
    assert len(sample["x"]) == 40


def test_upload_csv_as_json_with_a_target_column(api):
    r = api.post(
        "/api/datasets", json={"name": "j", "csv": CSV, "target": "a", "task": "regression"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["task"] == "regression"


def test_bad_csv_names_row_and_column(api):
    bad = "a,b,label\n1,2,0\n3,oops,1\n"
    r = api.post("/api/datasets", content=bad, headers={"Content-Type": "text/csv"})
    err = assert_error(r, 422, "not_numeric")
    assert "3" in err["message"] and "b" in err["message"]
    ragged = "a,b,label\n1,2,0\n3,1\n"
    assert_error(
        api.post("/api/datasets", content=ragged, headers={"Content-Type": "text/csv"}),
        422,
        "ragged_row",
    )
    r = api.post("/api/datasets", json={"csv": CSV, "target": "nope"})
    assert_error(r, 422, "missing_target")
    assert_error(api.post("/api/datasets", json={"csv": CSV, "path": "/etc/passwd"}), 422)
    r = api.post("/api/datasets", content=b"<x/>", headers={"Content-Type": "application/xml"})
    assert_error(r, 415)


def test_unknown_upload_is_404(api):
    assert_error(api.get("/api/datasets/upload-nope"), 404)


def test_examples(api):
    examples = api.get("/api/examples").json()
    ids = [e["id"] for e in examples]
    assert "xor" in ids and "spiral" in ids
    ex = api.get("/api/examples/xor").json()
    assert ex["graph"]["nodes"] and ex["dataset"]["name"] == "xor" and ex["train"]
    assert api.post("/api/validate", json=ex["graph"]).json()["ok"]
    assert_error(api.get("/api/examples/nope"), 404, "not_found")
    assert_error(api.get("/api/examples/..%2f..%2fpyproject"), 404)
