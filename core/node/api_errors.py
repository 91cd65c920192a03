"""Errors of the node's HTTP API, in OpenAI's format: {"error": {"message", "type", "param", "code"}}.

Every route raises ApiError for bad input; anything else is a bug, logged with its traceback and
answered with a 500 in the same format. Either way the node keeps serving.
"""
from __future__ import annotations

import json
import logging
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

logger = logging.getLogger(__name__)

RequestT = TypeVar("RequestT", bound=BaseModel)

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 409: "conflict_error", 413: "invalid_request_error", 422: "invalid_request_error",
          501: "not_implemented_error", 503: "service_unavailable_error"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": _TYPES.get(self.status, "api_error"),
                          "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status)


def from_validation(error: ValidationError) -> ApiError:
    """The first problem of a request body, named by its field path."""
    first = error.errors(include_url=False)[0]
    param = ".".join(str(part) for part in first["loc"]) or None
    message = f"{param}: {first['msg']}" if param else first["msg"]
    return ApiError(400, message, code="invalid_value" if param else "invalid_request", param=param)


def parse_body(model: type[RequestT], data: object) -> RequestT:
    """Validate a decoded JSON body against a request model; any problem becomes a 400 naming the field."""
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object", code="invalid_request")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise from_validation(error) from None


async def parse_json(request: Request, limit: int = 4 * 1024 * 1024, empty: dict[str, Any] | None = None) -> object:
    """The decoded JSON body; an empty body is `empty` where given, else a 400."""
    body = await request.body()
    if not body.strip() and empty is not None:
        return empty
    if len(body) > limit:
        raise ApiError(413, f"The request body is {len(body)} bytes; the limit is {limit}", code="request_too_large")
    if not body.strip():
        raise ApiError(400, "The request body is empty; send a JSON object", code="invalid_json")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, f"The request body is not valid JSON: {error}", code="invalid_json") from None


async def on_api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error.response()


async def on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = {404: "unknown_url", 405: "method_not_allowed"}.get(error.status_code)
    message = f"{request.method} {request.url.path}: {error.detail}"
    return ApiError(error.status_code, message, code=code).response()


async def on_bug(request: Request, error: Exception) -> JSONResponse:
    logger.error("Bug answering %s %s", request.method, request.url.path, exc_info=error)
    return ApiError(500, f"Internal error: {type(error).__name__}: {error}. The node goes on; see its log.",
                    code="internal_error").response()
