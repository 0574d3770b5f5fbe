import httpx

from blockprop import __version__


def test_health_on_a_real_server(live_server):
    r = httpx.get(f"{live_server.url}/api/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "version": __version__}


def test_unknown_api_path_is_404_not_the_spa(live_server):
    r = httpx.get(f"{live_server.url}/api/no-such-thing")
    assert r.status_code == 404


def test_static_files_cannot_escape_the_dist_folder(live_server):
    escapes = (
        "/..%2f..%2fpyproject.toml",
        "/%2e%2e/%2e%2e/pyproject.toml",
        "/../../pyproject.toml",
    )
    for path in escapes:
        r = httpx.get(f"{live_server.url}{path}")
        assert "[build-system]" not in r.text
