"""The API's own pages, offline: /docs (Swagger UI) and /redoc (ReDoc) with their scripts
and styles served from the package (`fastapi-offline` ships them), never from a CDN, so they
work on a school network without internet; and the WebSocket protocols as /asyncapi.json
with a readable page, /asyncapi, rendered here (no script at all)."""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"


def _assets_dir() -> Path | None:
    try:
        import fastapi_offline
    except ImportError:  # the pages then fall back to FastAPI's CDN links
        return None
    return Path(fastapi_offline.__file__).parent / "static"


def install_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """/docs, /redoc, /asyncapi.json and /asyncapi on `app` (made with docs_url=None,
    redoc_url=None)."""
    assets = _assets_dir()
    local = assets is not None and (assets / "swagger-ui-bundle.js").is_file()
    if local:

        @app.get(f"{ASSETS}/redoc.standalone.js", include_in_schema=False)
        async def redoc_script() -> Response:
            return Response(_redoc_script(assets), media_type="text/javascript")

        app.mount(ASSETS, StaticFiles(directory=assets), name="docs-assets")

    def url(name: str, cdn: str) -> str:
        return f"{ASSETS}/{name}" if local else cdn

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            swagger_js_url=url(
                "swagger-ui-bundle.js",
                "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js",
            ),
            swagger_css_url=url(
                "swagger-ui.css", "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"
            ),
            swagger_favicon_url=url("favicon.png", "https://fastapi.tiangolo.com/img/favicon.png"),
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            redoc_js_url=url(
                "redoc.standalone.js",
                "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js",
            ),
            redoc_favicon_url=url("favicon.png", "https://fastapi.tiangolo.com/img/favicon.png"),
            with_google_fonts=False,
        )

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi_json() -> Response:
        return Response(_asyncapi_text(), media_type="application/json")

    @app.get("/asyncapi", include_in_schema=False)
    async def asyncapi_page() -> HTMLResponse:
        return HTMLResponse(_asyncapi_page())


#: the one address ReDoc's script fetches by itself (the "API docs by Redocly" logo)
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@cache
def _redoc_script(assets: Path) -> bytes:
    """ReDoc's script with its logo taken from here, not from its CDN."""
    text = (assets / "redoc.standalone.js").read_bytes()
    return text.replace(REDOC_LOGO.encode(), f"{ASSETS}/favicon.png".encode())


@cache
def _asyncapi_text() -> str:
    from blockprop.api.asyncapi import asyncapi

    return json.dumps(asyncapi(), ensure_ascii=False)


@cache
def _asyncapi_page() -> str:
    """The AsyncAPI document as one static page: each channel, its messages both ways, and
    each message's fields (type, description)."""
    doc = json.loads(_asyncapi_text())
    schemas = doc["components"]["schemas"]
    messages = doc["components"]["messages"]
    e = html.escape
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(doc['info']['title'])}</title>",
        "<style>body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}table{border-collapse:"
        "collapse;margin:.3rem 0 1rem}td,th{border:1px solid #ddd;padding:.2rem .5rem;"
        "text-align:left;vertical-align:top}h3{margin-bottom:.2rem}</style></head><body>",
        f"<h1>{e(doc['info']['title'])} <small>{e(doc['info']['version'])}</small></h1>",
        f"<p>{e(doc['info']['description'])}</p>",
        "<p>Machine-readable: <a href='/asyncapi.json'>/asyncapi.json</a> (AsyncAPI "
        f"{e(doc['asyncapi'])}). The REST API: <a href='/docs'>/docs</a>.</p>",
    ]
    for op in doc["operations"].values():
        channel = doc["channels"][op["channel"]["$ref"].rsplit("/", 1)[1]]
        who = "server → client" if op["action"] == "send" else "client → server"
        out.append(f"<h2><code>{e(channel['address'])}</code>: {who}</h2>")
        out.append(f"<p>{e(op.get('summary', ''))}</p>")
        for ref in op["messages"]:
            name = ref["$ref"].rsplit("/", 1)[1]
            out += _message_html(name, messages[name], schemas)
    out.append("</body></html>")
    return "\n".join(out)


def _message_html(name: str, message: dict[str, Any], schemas: dict[str, Any]) -> list[str]:
    e = html.escape
    schema = schemas[message["payload"]["$ref"].rsplit("/", 1)[1]]
    props = schema.get("properties", {})
    kind = props.get("type", {})
    types = kind.get("enum") or ([kind["const"]] if "const" in kind else [])
    title = " | ".join(f"<code>{e(str(t))}</code>" for t in types) or e(name)
    rows = [
        f"<tr><td><code>{e(k)}</code>{'' if k not in schema.get('required', []) else ' *'}"
        f"</td><td>{e(_type(v))}</td><td>{e(v.get('description', ''))}</td></tr>"
        for k, v in props.items()
        if k != "type"
    ]
    out = [f"<h3 id='{e(name)}'>{title} <small>({e(name)})</small></h3>"]
    if message.get("summary"):
        out.append(f"<p>{e(message['summary'])}</p>")
    if rows:
        out.append("<table><tr><th>field</th><th>type</th><th>what</th></tr>")
        out += rows
        out.append("</table>")
    return out


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list[{_type(schema.get('items', {}))}]"
    if "enum" in schema:
        return " | ".join(map(str, schema["enum"]))
    return str(schema.get("type", "any"))
