"""The control API under /api: status, serving, pause, settings and their schema, the event stream.

Every answer and event is a model of core.node.contract, the one declaration the app parses too.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from core.errors import SettingsError
from core.node.api_errors import ApiError, parse_body, parse_json
from core.node.contract import (
    PauseSignalsAnswer,
    ServingAnswer,
    SettingsAnswer,
    SettingsUpdateAnswer,
    StatusChanged,
    settings_schema,
    settings_values,
)
from core.node.node import Node

KEEPALIVE_SECONDS = 15.0


class PauseRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    minutes: float | None = Field(None, gt=0, le=7 * 24 * 60)


def contract_response(answer: BaseModel, status_code: int = 200) -> Response:
    """A contract model as the JSON body (settings keep their dotted keys)."""
    return Response(answer.model_dump_json(), status_code=status_code, media_type="application/json")


class ControlApi:
    def __init__(self, node: Node):
        self.node = node

    def routes(self) -> list[Route]:
        return [
            Route("/api/status", self.status, methods=["GET"]),
            Route("/api/serving/start", self.start, methods=["POST"]),
            Route("/api/serving/stop", self.stop, methods=["POST"]),
            Route("/api/serving/pause", self.pause, methods=["POST"]),
            Route("/api/serving/resume", self.resume, methods=["POST"]),
            Route("/api/settings", self.settings, methods=["GET", "PATCH"]),
            Route("/api/settings/schema", self.settings_schema, methods=["GET"]),
            Route("/api/events", self.events, methods=["GET"]),
            Route("/api/pause/signals", self.pause_signals, methods=["POST"]),
        ]

    async def status(self, request: Request) -> Response:
        return contract_response(await run_in_threadpool(self.node.status))

    async def start(self, request: Request) -> Response:
        await run_in_threadpool(self.node.start_serving)
        return await self._serving()

    async def stop(self, request: Request) -> Response:
        await run_in_threadpool(self.node.stop_serving)
        return await self._serving()

    async def pause(self, request: Request) -> Response:
        minutes = parse_body(PauseRequest, await parse_json(request, empty={})).minutes
        await run_in_threadpool(self.node.pause, minutes)
        return await self._serving()

    async def resume(self, request: Request) -> Response:
        await run_in_threadpool(self.node.resume)
        return await self._serving()

    async def pause_signals(self, request: Request) -> Response:
        """Detector snapshots posted by the app (the Windows fullscreen check runs there)."""
        body = await parse_json(request)
        try:
            await run_in_threadpool(self.node.post_pause_signals, body)
        except ValueError as error:
            raise ApiError(400, str(error), code="invalid_value") from None
        return contract_response(PauseSignalsAnswer(serving=await run_in_threadpool(self.node.serving_status),
                                                     pause=await run_in_threadpool(self.node.pause_status)))

    async def settings(self, request: Request) -> Response:
        if request.method != "PATCH":
            return contract_response(SettingsAnswer(values=settings_values(self.node.settings.as_dict())))
        changes = await parse_json(request)
        if not isinstance(changes, dict) or not changes:
            raise ApiError(400, "Send a JSON object of settings to change, like {\"server.vram_reserve_gb\": 2}",
                           code="invalid_request")
        try:
            keys, applied = await run_in_threadpool(self.node.update_settings, changes)
        except SettingsError as error:
            raise ApiError(400, str(error), code="invalid_setting") from None
        return contract_response(SettingsUpdateAnswer(values=settings_values(self.node.settings.as_dict()),
                                                      changed=keys, applied=applied))

    async def settings_schema(self, request: Request) -> Response:
        return contract_response(settings_schema())

    async def events(self, request: Request) -> StreamingResponse:
        """Server-sent events: the current status first, then every node event (core.node.contract.NodeEvent)."""
        queue = self.node.hub.subscribe()  # before the first status, so that no change falls in between

        async def lines() -> AsyncIterator[str]:
            try:
                yield ": connected\n\n"
                current = await run_in_threadpool(self.node.publisher.first_for_new_listener)
                if current is not None:  # else it went to every listener, this one included
                    yield f"data: {StatusChanged(status=current).to_json()}\n\n"
                while True:
                    try:
                        line = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                    yield f"data: {line}\n\n"
            finally:
                self.node.hub.unsubscribe(queue)

        return StreamingResponse(lines(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    async def _serving(self) -> Response:
        return contract_response(ServingAnswer(serving=await run_in_threadpool(self.node.serving_status)))
