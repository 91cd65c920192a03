"""The OpenAI-compatible API under /v1: models, chat completions and completions, streamed or not."""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import torch
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from core.errors import ModelNotFoundError, RemoteCallError, UserFacingError
from core.node.api_errors import ApiError, parse_body, parse_json
from core.node.generation import PreparedRequest, RequestRunner, Result, Sampling
from core.node.model_pool import LoadedModel, ModelPool
from core.node.openai_schema import ChatRequest, CompletionRequest, chat_prompt_ids, text_prompt_ids

logger = logging.getLogger(__name__)


class OpenAIApi:
    def __init__(self, pool: ModelPool, runner: RequestRunner, default_max_tokens: Callable[[], int]):
        self.pool = pool
        self.runner = runner
        self.default_max_tokens = default_max_tokens

    def routes(self) -> list[Route]:
        return [
            Route("/v1/models", self.list_models, methods=["GET"]),
            Route("/v1/models/{model:path}", self.get_model, methods=["GET"]),
            Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
            Route("/v1/completions", self.completions, methods=["POST"]),
        ]

    async def list_models(self, request: Request) -> JSONResponse:
        names = await run_in_threadpool(self.pool.names)
        return JSONResponse({"object": "list", "data": [_model_card(name) for name in names]})

    async def get_model(self, request: Request) -> JSONResponse:
        name = request.path_params["model"]
        if name not in await run_in_threadpool(self.pool.names):
            raise ApiError(404, f"The model {name!r} does not exist in this swarm", code="model_not_found",
                           param="model")
        return JSONResponse(_model_card(name))

    async def chat_completions(self, request: Request) -> JSONResponse | StreamingResponse:
        body = parse_body(ChatRequest, await parse_json(request))
        loaded = await self._model(body.model)
        return await self._answer(loaded, chat_prompt_ids(loaded.tokenizer, body.messages), body, _ChatFormat)

    async def completions(self, request: Request) -> JSONResponse | StreamingResponse:
        body = parse_body(CompletionRequest, await parse_json(request))
        if body.echo:
            raise ApiError(400, "echo is not supported", param="echo", code="unsupported_value")
        loaded = await self._model(body.model)
        return await self._answer(loaded, text_prompt_ids(loaded.tokenizer, body.prompt_text()), body, _TextFormat)

    async def _answer(self, loaded: LoadedModel, prompt_ids: torch.Tensor, body: ChatRequest | CompletionRequest,
                      reply_format: type[_ChatFormat]) -> JSONResponse | StreamingResponse:
        """Generate the answer, whole or streamed as server-sent events, in `reply_format`."""
        request = await self._prepare(loaded, prompt_ids, body)
        reply = reply_format(loaded.name)
        if body.stream:
            return _event_stream(_stream(request, reply, body.include_usage))
        return JSONResponse(reply.whole(await _run(request)))

    async def _model(self, name: str) -> LoadedModel:
        try:
            return await run_in_threadpool(self.pool.get, name)
        except ModelNotFoundError as error:
            raise ApiError(404, str(error), code="model_not_found", param="model") from None

    async def _prepare(self, loaded: LoadedModel, prompt_ids: torch.Tensor,
                       body: ChatRequest | CompletionRequest) -> PreparedRequest:
        room = loaded.context_length - prompt_ids.shape[1]
        max_tokens = body.requested_tokens or min(self.default_max_tokens(), max(room, 0))
        if max_tokens < 1 or max_tokens > room:
            raise ApiError(400, f"The prompt has {prompt_ids.shape[1]} tokens and {max_tokens} more were asked for; "
                                f"{loaded.name} holds at most {loaded.context_length}. Shorten the conversation "
                                f"or lower max_tokens.", code="context_length_exceeded", param="max_tokens")
        sampling = Sampling(max_tokens=max_tokens, temperature=1.0 if body.temperature is None else body.temperature,
                            top_p=1.0 if body.top_p is None else body.top_p, stop=body.stop_sequences(), seed=body.seed)
        try:
            return await run_in_threadpool(self.runner.prepare, loaded, prompt_ids, sampling)
        except UserFacingError as error:  # MissingBlocksError after the bounded wait, a swarm that cannot serve
            raise ApiError(503, str(error), code="model_not_covered") from None


async def _run(request: PreparedRequest) -> Result:
    try:
        return await run_in_threadpool(request.run)
    except (UserFacingError, RemoteCallError) as error:
        raise _swarm_failed(error) from None


def _swarm_failed(error: object) -> ApiError:
    return ApiError(503, f"The swarm failed mid-answer: {error}", code="swarm_failed")


def _model_card(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "meadow"}


def _meadow(result: Result) -> dict[str, Any]:
    """Meadow's own extension of an answer: which servers computed it, and how fast."""
    return {"route": list(result.route), "tokens_per_second": result.tokens_per_second}


def _usage(result: Result) -> dict[str, Any]:
    return {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
            "total_tokens": result.prompt_tokens + result.completion_tokens}


class _ChatFormat:
    chunk_object = "chat.completion.chunk"  # the "object" of streamed chunks

    def __init__(self, model: str):
        self.model, self.id, self.created = model, f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

    def whole(self, result: Result) -> dict[str, Any]:
        choice = {"index": 0, "message": {"role": "assistant", "content": result.text}, "logprobs": None,
                  "finish_reason": result.finish_reason}
        return {**self._head("chat.completion"), "choices": [choice], "usage": _usage(result),
                "meadow": _meadow(result)}

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**self._head(self.chunk_object), "choices": [choice]}

    def opening(self) -> dict[str, Any] | None:
        return self.chunk({"role": "assistant", "content": ""})

    def text_chunk(self, text: str) -> dict[str, Any]:
        return self.chunk({"content": text})

    def final_chunk(self, result: Result) -> dict[str, Any]:
        return {**self.chunk({}, result.finish_reason), "meadow": _meadow(result)}

    def usage_chunk(self, result: Result) -> dict[str, Any]:
        return {**self._head(self.chunk_object), "choices": [], "usage": _usage(result)}

    def _head(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model,
                "system_fingerprint": None}


class _TextFormat(_ChatFormat):
    chunk_object = "text_completion"

    def __init__(self, model: str):
        super().__init__(model)
        self.id = f"cmpl-{uuid.uuid4().hex[:24]}"

    def whole(self, result: Result) -> dict[str, Any]:
        choice = {"index": 0, "text": result.text, "logprobs": None, "finish_reason": result.finish_reason}
        return {**self._head("text_completion"), "choices": [choice], "usage": _usage(result),
                "meadow": _meadow(result)}

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "text": delta.get("content", ""), "logprobs": None, "finish_reason": finish_reason}
        return {**self._head(self.chunk_object), "choices": [choice]}

    def opening(self) -> dict[str, Any] | None:
        return None


def _event_stream(chunks: AsyncIterator[dict[str, Any]]) -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        async for chunk in chunks:
            yield f"data: {json.dumps(chunk)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(lines(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def _stream(request: PreparedRequest, reply: _ChatFormat, include_usage: bool) -> AsyncIterator[dict[str, Any]]:
    """Run the request in a thread and turn its text deltas into chunks as they come."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, object]] = asyncio.Queue()

    def send(kind: str, value: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
        except RuntimeError:  # the API loop is gone (shutdown)
            request.cancel()

    def work() -> None:
        try:
            send("done", request.run(lambda text: send("delta", text)))
        except Exception as error:  # noqa: BLE001 - reported to the client in the stream
            send("error", error)

    threading.Thread(target=work, daemon=True, name="meadow-generation").start()
    try:
        if (opening := reply.opening()) is not None:
            yield opening
        while True:
            kind, value = await queue.get()
            if kind == "delta":
                yield reply.text_chunk(str(value))
            elif kind == "done":
                assert isinstance(value, Result)
                yield reply.final_chunk(value)
                if include_usage:
                    yield reply.usage_chunk(value)
                return
            else:
                assert isinstance(value, Exception)  # work() sends "error" with what it caught
                if not isinstance(value, (UserFacingError, RemoteCallError)):
                    logger.error("Generation failed", exc_info=value)
                yield _swarm_failed(value).body()
                return
    finally:
        request.cancel()  # the client went away, or the answer is complete
