"""The page loads in a real Chromium from a real server and shows the editor canvas."""

from playwright.sync_api import expect


def test_page_shows_canvas_without_console_errors(live_server, page, console_errors, screenshot):
    page.goto(live_server.url + "/")
    expect(page.locator(".react-flow")).to_be_visible(timeout=15_000)
    expect(page).to_have_title("Blockprop")
    screenshot("shell")
    assert console_errors == []


def test_client_route_falls_back_to_the_app(live_server, page, console_errors):
    page.goto(live_server.url + "/some/client/route")
    expect(page.locator(".react-flow")).to_be_visible(timeout=15_000)
    assert console_errors == []
