"""Schemathesis against a real server's own OpenAPI document (`/openapi.json`).

Every operation gets its examples, the coverage phase's boundary values, ~50 fuzzed requests
(valid and invalid: generation mode `all`) and the stateful phase, which chains operations
through the links the document declares (a created graph, run or session to the operations
on it, with its edit token). Checks: no server error, every response in the documented
schema, status code, content type and headers; invalid requests refused; the methods a path
does not have answered 405 with a true `Allow`; deleted resources gone, created ones there.
Not checked: `positive_data_acceptance` (a schema-valid graph can still be an invalid graph:
a cycle, an unknown op, a shape mismatch are 422 by design).

Deterministic for CI: a fixed seed, no example database, one worker; nothing leaves the
machine (the CLI has no telemetry; the server is on loopback). The run takes about 70 s on a
quiet 2-core machine. Its report is printed when it fails; `st replay <id>` (with the printed
`--config-file`) reproduces a failure.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECKS = (
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "missing_required_header",
)

ENABLED = "\n".join(f"{name}.enabled = true" for name in CHECKS)
CONFIG = f"""
seed = 1
workers = 1
request-timeout = 120

[generation]
mode = "all"
max-examples = 50
database = "none"

[phases.stateful]
max-steps = 20

[phases.stateful.generation]
max-examples = 100

[checks]
enabled = false
{ENABLED}
"""


@pytest.mark.timeout(900)
def test_schemathesis_finds_no_server_error_and_no_answer_off_the_schema(private_server, tmp_path):
    server = private_server()
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config)]
    command += ["--no-color", "run", f"{server.url}/openapi.json"]
    # cwd: its reports and any config it looks for stay in this test's folder
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=840)
    report = done.stdout[-30_000:] + done.stderr[-5_000:]
    assert done.returncode == 0, report
    assert "Seed: 1" in done.stdout and "Stateful" in done.stdout, report
