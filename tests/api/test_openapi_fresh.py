"""frontend/openapi.json (the source of the frontend's generated types) matches the app."""

import json
from pathlib import Path

from blockprop.api.openapi import openapi

COMMITTED = Path(__file__).resolve().parents[2] / "frontend" / "openapi.json"


def test_committed_openapi_document_is_fresh():
    current = json.loads(json.dumps(openapi(), sort_keys=True))
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == current, (
        "frontend/openapi.json is stale: run "
        "`.venv/bin/python -m blockprop.api.openapi > frontend/openapi.json`"
    )


def test_every_schema_reference_resolves_and_errors_use_the_shared_shape():
    doc = openapi()
    text = json.dumps(doc)
    schemas = doc["components"]["schemas"]
    for name in ("StreamServerFrame", "StreamClientMessage", "ErrorBody", "MetricPoint"):
        assert name in schemas
    assert "HTTPValidationError" not in text
    import re

    missing = set(re.findall(r"#/components/schemas/([\w-]+)", text)) - set(schemas)
    assert not missing
