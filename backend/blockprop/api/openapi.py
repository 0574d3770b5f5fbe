"""Print the OpenAPI document as sorted JSON, for the frontend's generated types:

python -m blockprop.api.openapi > frontend/openapi.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from blockprop.api.app import create_app
from blockprop.settings import Settings


def openapi() -> dict[str, Any]:
    """The OpenAPI document of the app with default settings (no database is opened)."""
    return create_app(Settings(_env_file=None)).openapi()


def main() -> None:
    sys.stdout.write(json.dumps(openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
