"""One place where failures become HTTP responses: always a JSON body
`{"error": {"code": ..., "message": ...}}`, never a traceback, never a crash."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from photon_node.core.errors import PhotonError

logger = logging.getLogger(__name__)

MAX_BODY = web.AppKey("max_body", int)

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    414: "too_large",
    431: "too_large",
}


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    body: dict = {"code": code, "message": message}
    if details:
        body.update(details)
    return {"error": body}


def error_response(
    status: int, code: str, message: str, details: dict | None = None, headers=None
) -> web.Response:
    response = web.json_response(error_body(code, message, details), status=status)
    for name, value in (headers or {}).items():
        if name.lower() in ("allow", "retry-after"):
            response.headers[name] = value
    return response


async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    """Call the handler; any failure becomes a JSON error response."""
    try:
        return await handler(request)
    except PhotonError as error:
        if error.status >= 500:
            logger.warning("%s %s failed: %s", request.method, request.path, error.message)
        return error_response(error.status, error.code, error.message, error.details)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        message = error.reason
        if error.status == 413:
            message = f"request body is larger than the limit of {request.app[MAX_BODY]} bytes"
        elif error.status == 405:
            message = f"method {request.method} is not allowed on {request.path}"
        elif error.status == 404:
            message = f"no such path: {request.path}"
        code = _HTTP_CODES.get(error.status, "http_error")
        return error_response(error.status, code, message, headers=error.headers)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        logger.exception("unhandled error serving %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error; see the node's log")
