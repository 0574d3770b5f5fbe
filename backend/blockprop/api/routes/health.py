from fastapi import APIRouter
from pydantic import Field

from blockprop import __version__
from blockprop.api.deps import RunsDep
from blockprop.api.schemas.common import Reply

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict:
    """Liveness and version."""
    return {"status": "ok", "version": __version__}


class Load(Reply):
    """How busy the training pool is (the teacher's status line)."""

    workers: int = Field(description="worker processes taking runs (one core each)")
    live: int = Field(description="runs a worker holds: running, paused or held")
    running: int = Field(description="runs training now")
    queued: int = Field(description="runs waiting for a place")
    cpu_share: float = Field(
        description="the CPU the live runs reserve, as a share of what the pool admits (1: full)"
    )


@router.get("/load", response_model=Load)
def load(runs: RunsDep) -> dict:
    """Runs live, running and waiting, and the share of the pool's CPU they reserve."""
    return runs.load_summary()
