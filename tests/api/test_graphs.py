"""Stored graphs: create, list, read, update, delete, fork; edit tokens; revisions."""

from .conftest import XOR_GRAPH, assert_error, graph


def create(api, doc=None, **extra):
    r = api.post("/api/graphs", json={"graph": doc or XOR_GRAPH, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def test_create_then_read_with_the_id_only(api):
    g = create(api)
    assert g["name"] == XOR_GRAPH["name"] and g["revision"] == 1 and g["forked_from"] is None
    r = api.get(f"/api/graphs/{g['id']}")
    assert r.status_code == 200
    read = r.json()
    assert read["graph"]["nodes"] == XOR_GRAPH["nodes"]
    assert "edit_token" not in read


def test_drafts_need_not_be_valid(api):
    g = create(api, {"version": 1, "name": "draft", "nodes": [{"id": "a", "op": "nope"}]})
    assert api.get(f"/api/graphs/{g['id']}").json()["graph"]["nodes"][0]["op"] == "nope"


def test_update_needs_the_edit_token(api):
    g = create(api)
    body = {"graph": graph(name="renamed")}
    assert_error(api.put(f"/api/graphs/{g['id']}", json=body), 403, "edit_token_required")
    r = api.put(f"/api/graphs/{g['id']}", json=body, headers={"X-Edit-Token": "wrong"})
    assert_error(r, 403, "bad_edit_token")
    r = api.put(f"/api/graphs/{g['id']}", json=body, headers={"X-Edit-Token": g["edit_token"]})
    assert r.status_code == 200
    assert r.json()["name"] == "renamed" and r.json()["revision"] == 2
    assert api.get(f"/api/graphs/{g['id']}").json()["graph"]["name"] == "renamed"


def test_update_with_a_stale_revision_is_409(api):
    g = create(api)
    h = {"X-Edit-Token": g["edit_token"]}
    first = api.put(f"/api/graphs/{g['id']}", json={"graph": XOR_GRAPH, "revision": 1}, headers=h)
    assert first.status_code == 200
    stale = api.put(f"/api/graphs/{g['id']}", json={"graph": XOR_GRAPH, "revision": 1}, headers=h)
    assert "revision 2" in assert_error(stale, 409, "conflict")["message"]


def test_delete_needs_the_edit_token(api):
    g = create(api)
    assert_error(api.delete(f"/api/graphs/{g['id']}"), 403)
    r = api.delete(f"/api/graphs/{g['id']}", headers={"X-Edit-Token": g["edit_token"]})
    assert r.status_code == 204
    assert_error(api.get(f"/api/graphs/{g['id']}"), 404, "not_found")
    r = api.delete(f"/api/graphs/{g['id']}", headers={"X-Edit-Token": g["edit_token"]})
    assert_error(r, 404)


def test_fork_copies_with_a_new_edit_token(api):
    g = create(api)
    r = api.post(f"/api/graphs/{g['id']}/fork", json={"name": "mine"})
    assert r.status_code == 201
    fork = r.json()
    assert fork["forked_from"] == g["id"] and fork["name"] == "mine"
    assert fork["id"] != g["id"] and fork["edit_token"] != g["edit_token"]
    # the original's token does not edit the fork
    r = api.put(
        f"/api/graphs/{fork['id']}",
        json={"graph": XOR_GRAPH},
        headers={"X-Edit-Token": g["edit_token"]},
    )
    assert_error(r, 403)
    assert api.post(f"/api/graphs/{g['id']}/fork").json()["name"].endswith("(fork)")
    assert_error(api.post("/api/graphs/missing/fork"), 404)


def test_list_shows_public_graphs_or_the_ids_asked_for(api):
    private = create(api, graph(name="private one"))
    public = create(api, graph(name="public one"), public=True)
    listed = {g["id"] for g in api.get("/api/graphs").json()}
    assert public["id"] in listed and private["id"] not in listed
    mine = api.get("/api/graphs", params={"ids": f"{private['id']},nope"}).json()
    assert [g["id"] for g in mine] == [private["id"]]
    assert mine[0]["node_count"] == len(XOR_GRAPH["nodes"])


def test_unknown_graph_is_404(api):
    assert_error(api.get("/api/graphs/does-not-exist"), 404, "not_found")
    r = api.put(
        "/api/graphs/does-not-exist", json={"graph": XOR_GRAPH}, headers={"X-Edit-Token": "x"}
    )
    assert_error(r, 404)
