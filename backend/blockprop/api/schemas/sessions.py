"""Classroom sessions: the graph and view a teacher shares with followers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from blockprop.api.schemas.common import Reply, Request
from blockprop.api.schemas.graphs import Graph, GraphDocument


class ExplainPosition(Request):
    """Where the teacher is in explain mode; followers replay it on the same sample."""

    inputs: dict[str, Any] = Field(default_factory=dict, description="the sample (batch of 1)")
    seed: int = Field(default=0, ge=0)
    step: int = Field(default=0, ge=0, description="position in the walk (forward, backward)")
    node: str | None = Field(
        default=None, description="the node (or module instance) at that step (a hint)"
    )
    into: list[Annotated[str, Field(max_length=300)]] = Field(
        default_factory=list,
        max_length=1000,
        description='the module instances the walk steps into, per direction ("forward:b1", '
        '"backward:b1"); every other instance is one step. `step` counts in that walk',
    )
    playing: bool = False
    speed: float = Field(default=1.0, gt=0, le=100, description="steps per second")
    param: str | None = Field(default=None, description='"node.param" for the update step')
    lr: float = Field(default=0.1, description="η of the update step")
    run_id: str | None = Field(
        default=None, max_length=64, description="the run whose trained parameters are explained"
    )
    run_step: int | None = Field(
        default=None, ge=0, description="the step of those parameters (`run.step` of the answer)"
    )


class SessionView(Request):
    """What followers mirror besides the graph. Every field is optional."""

    explain: ExplainPosition | None = None
    gradcheck: dict[str, Any] | None = Field(
        default=None, description="the teacher's last gradient-check result (badges)"
    )
    run_id: str | None = Field(default=None, max_length=64, description="a run to watch")
    selected: str | None = Field(default=None, max_length=64)
    present: bool = False
    backward_graph: bool = Field(default=False, description="the transformed graph is shown")


class SessionCreate(Request):
    graph: Graph
    view: SessionView = Field(default_factory=SessionView)


class SessionUpdate(Request):
    graph: Graph | None = None
    view: SessionView | None = None


class SessionRead(Reply):
    id: str
    graph: GraphDocument
    view: dict[str, Any]
    version: int = Field(description="bumps on every change")
    graph_version: int = Field(description="bumps when the graph changes")
    followers: int = Field(description="WebSocket followers connected now")
    created: float
    updated: float


class SessionCreated(SessionRead):
    edit_token: str = Field(description="needed (X-Edit-Token) to change or end the session")
    follow_path: str = Field(description="the page students open: /follow/{id}")


# The frames of WS /api/sessions/{id}/stream (server to follower; followers send nothing),
# published in the AsyncAPI document. The session hub writes them; tests validate its frames
# against these models.


class SessionHelloFrame(Reply):
    """First frame: the whole session."""

    type: Literal["hello"]
    session: SessionRead


class SessionStateFrame(Reply):
    """The session changed: its view, and its graph when that changed too."""

    type: Literal["state"]
    version: int
    graph_version: int
    view: dict[str, Any]
    followers: int
    updated: float
    graph: GraphDocument | None = Field(default=None, description="when the graph changed")


class SessionClosedFrame(Reply):
    """The session ended (the teacher ended it, it expired, or the server stops)."""

    type: Literal["closed"]
    reason: str | None = None


SESSION_FRAMES = [SessionHelloFrame, SessionStateFrame, SessionClosedFrame]
