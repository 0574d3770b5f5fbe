"""Print the OpenAPI document as sorted JSON, for the frontend's generated types, and the
training config's schema alone, from which the dock's settings form is built:

python -m blockprop.api.openapi > frontend/openapi.json
python -m blockprop.api.openapi --train-config > frontend/src/train/trainConfig.json
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


def train_config_schema() -> dict[str, Any]:
    """The `TrainConfig` schema as the OpenAPI document has it (with its `x-` extensions)."""
    return openapi()["components"]["schemas"]["TrainConfig"]


def main() -> None:
    doc = train_config_schema() if "--train-config" in sys.argv[1:] else openapi()
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
