"""The service's refusals: an HTTP status and a stable code, answered by the API as is."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        nodes: list[str] | None = None,
        port: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.nodes = list(nodes or [])
        self.port = port
        #: response headers, e.g. Retry-After on a 429
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "nodes": self.nodes,
                "port": self.port,
            }
        }


def from_issues(issues: list[Any], status: int = 422) -> ServiceError:
    """A ServiceError from the engine's validation issues (the first one is the headline)."""
    first = issues[0]
    message = first.message
    if len(issues) > 1:
        rest = "; ".join(i.message for i in issues[1:4])
        message += f" (and {len(issues) - 1} more: {rest}{', …' if len(issues) > 4 else ''})"
    return ServiceError(status, first.code, message, list(first.nodes or []), first.port)


def from_data_error(e: Any, status: int = 422) -> ServiceError:
    """A ServiceError from a DataError (its row and column go into the message)."""
    message = e.message
    where = []
    if getattr(e, "row", None) is not None:
        where.append(f"row {e.row}")
    if getattr(e, "column", None) is not None:
        where.append(f"column {e.column!r}")
    if where and not all(w.split()[0] in message for w in where):
        message += f" ({', '.join(where)})"
    return ServiceError(status, e.code, message)
