from fastapi import APIRouter

from blockprop import __version__

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict:
    """Liveness and version."""
    return {"status": "ok", "version": __version__}
