"""The API's own pages work without internet: with every request beyond the server refused,
/docs (Swagger UI) lists the operations, /redoc renders them, and /asyncapi shows the
WebSocket messages."""

from urllib.parse import urlparse

from playwright.sync_api import expect


def _offline(page, server_url: str) -> list[str]:
    """Abort every request that does not go to our server; returns what was refused."""
    ours = urlparse(server_url).netloc
    refused: list[str] = []

    def route(r):
        if urlparse(r.request.url).netloc == ours:
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return refused


def test_swagger_ui_lists_the_operations_offline(live_server, page, console_errors):
    refused = _offline(page, live_server.url)
    page.goto(live_server.url + "/docs")
    expect(
        page.locator(".opblock-summary-path", has_text="/api/runs/{run_id}/graph")
    ).to_be_visible(timeout=15_000)
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() >= 30
    assert refused == [] and console_errors == []


def test_redoc_and_the_asyncapi_page_render_offline(live_server, page, console_errors):
    refused = _offline(page, live_server.url)
    page.goto(live_server.url + "/redoc")
    expect(page.get_by_text("Create Run").first).to_be_attached(timeout=15_000)
    page.goto(live_server.url + "/asyncapi")
    expect(page.locator("h3#ClientSet")).to_be_visible()
    expect(page.locator("h2", has_text="/api/runs/{run_id}/stream").first).to_be_visible()
    assert refused == [] and console_errors == []
