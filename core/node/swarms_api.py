"""Private swarms through the node's API: list, join by invite token, leave, create invites.

Joining stores the swarm (secret into the OS keyring); the node itself keeps its current swarm until
it is restarted with `--swarm NAME` (the app does that when the user switches).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.errors import UserFacingError
from core.node.api_errors import ApiError, parse_body, parse_json
from core.swarm.private import (
    DEFAULT_INVITE_SECONDS,
    MAX_INVITE_SECONDS,
    create_invite,
    join_swarm,
    leave_swarm,
    list_swarms,
)

ResultT = TypeVar("ResultT")


class JoinRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    token: str = Field(min_length=1, max_length=8192)


class LeaveRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    name: str = Field(min_length=1, max_length=64)


class InviteRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    swarm: str | None = Field(None, min_length=1, max_length=64)
    initial_peers: list[str] | None = Field(None, max_length=32)
    expires_in_s: float = Field(DEFAULT_INVITE_SECONDS, gt=0, le=MAX_INVITE_SECONDS)


class SwarmsApi:
    def __init__(self, current_swarm: str | None, own_multiaddrs: list[str]):
        self.current_swarm = current_swarm  # None: the public swarm
        self.own_multiaddrs = own_multiaddrs

    def routes(self) -> list[Route]:
        return [Route("/api/swarms", self.swarms, methods=["GET", "POST", "DELETE"]),
                Route("/api/invites", self.invite, methods=["POST"])]

    async def swarms(self, request: Request) -> JSONResponse:
        if request.method == "POST":
            body = parse_body(JoinRequest, await parse_json(request))
            joined = await _user_call(join_swarm, body.token.strip())
            return JSONResponse({"swarm": joined.to_json()}, status_code=201)
        if request.method == "DELETE":
            leave = parse_body(LeaveRequest, await parse_json(request))
            if leave.name == self.current_swarm:
                raise ApiError(409, f"The node runs in swarm {leave.name!r}; switch to another swarm before leaving it",
                               code="swarm_in_use")
            left = await _user_call(leave_swarm, leave.name)
            return JSONResponse({"left": left.to_json()})
        swarms = await _user_call(list_swarms)
        return JSONResponse({"current": self.current_swarm, "swarms": [swarm.to_json() for swarm in swarms]})

    async def invite(self, request: Request) -> JSONResponse:
        body = parse_body(InviteRequest, await parse_json(request))
        name = body.swarm or self.current_swarm
        if name is None:
            raise ApiError(400, "The public swarm needs no invite; name a private swarm in \"swarm\"", param="swarm",
                           code="invalid_value")
        peers = body.initial_peers
        if peers is None and name == self.current_swarm:
            peers = self.own_multiaddrs  # this node is a bootstrap peer of its swarm
        token = await _user_call(create_invite, name, peers or (), body.expires_in_s)
        return JSONResponse({"swarm": name, "token": token}, status_code=201)


async def _user_call(function: Callable[..., ResultT], *args: Any) -> ResultT:
    """Run a swarm-store call off the loop; its user-facing errors become 400s."""
    try:
        return await run_in_threadpool(function, *args)
    except UserFacingError as error:
        raise ApiError(400, str(error), code="invalid_swarm_request") from None
