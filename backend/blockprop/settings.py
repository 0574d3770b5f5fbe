"""One place for every setting, each overridable by an environment variable BLOCKPROP_<NAME>."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
# The built frontend: frontend/dist at the repository root during development.
DEFAULT_STATIC_DIR = PACKAGE_DIR.parent.parent / "frontend" / "dist"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BLOCKPROP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    database: Path = Path("blockprop.sqlite")
    static_dir: Path = DEFAULT_STATIC_DIR
    # An access token every request must carry; required to listen beyond loopback.
    token: str | None = None
    # Extra origins allowed to change state or open WebSockets (the served origin always is).
    allowed_origins: list[str] = []

    # Limits
    max_body_bytes: int = 2_000_000
    max_json_depth: int = 64
    max_nodes: int = 2_000
    max_tensor_bytes: int = 512 * 1024 * 1024
    max_runs: int = 2
    max_steps: int = 1_000_000
    max_run_seconds: float = 3600.0


def get_settings() -> Settings:
    return Settings()
