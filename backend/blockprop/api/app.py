"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from blockprop import __version__
from blockprop.api.routes import health
from blockprop.api.spa import mount_spa
from blockprop.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Blockprop",
        version=__version__,
        summary="Draw computation graphs as block diagrams and train them with backpropagation.",
    )
    app.state.settings = settings
    app.include_router(health.router, prefix="/api")
    mount_spa(app, settings.static_dir)
    return app
