"""Key-value endpoints: PUT/GET/DELETE /kv/{key} and the scan GET /kv.

Keys arrive percent-encoded in the path (encode '/' as %2F); they must be valid UTF-8 of 1 to
1024 bytes. Values are the raw request body. Every rejection is a 4xx with a JSON body.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from urllib.parse import unquote_to_bytes

from aiohttp import web

from photon_common import contract
from photon_node.api.forward import JSON_TYPE, forward
from photon_node.cluster.node import Node
from photon_node.cluster.raft.errors import NotLeaderError
from photon_node.core.commands import Expect, Result
from photon_node.core.errors import InvalidRequest, TooLarge
from photon_node.storage.engine import Item

OCTETS = "application/octet-stream"
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_REVISION = re.compile(r'(?:W/)?"?([0-9]{1,19})"?')
_CONSISTENCY = ("linearizable", "stale")

NODE = web.AppKey("node", Node)


def _raw_path(request: web.Request) -> str:
    return request.raw_path.split("?", 1)[0]


def parse_key(request: web.Request) -> bytes:
    return key_from_path(_raw_path(request)[len(contract.KV_PREFIX) + 1 :])


def key_from_path(raw: str) -> bytes:
    """The key from the percent-encoded path segment after /kv/; 4xx if it is not a key."""
    if _BAD_ESCAPE.search(raw):
        raise InvalidRequest("the key has a malformed percent-encoding")
    key = unquote_to_bytes(raw)
    if not key:
        raise InvalidRequest("the key is empty")
    if len(key) > contract.MAX_KEY_BYTES:
        raise TooLarge(f"the key is {len(key)} bytes; the limit is {contract.MAX_KEY_BYTES}")
    try:
        key.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidRequest("the key is not valid UTF-8") from error
    return key


def _only_params(request: web.Request, allowed: tuple[str, ...]) -> None:
    for name in request.query:
        if name not in allowed:
            raise InvalidRequest(f"unknown query parameter {name!r}")
        if len(request.query.getall(name)) > 1:
            raise InvalidRequest(f"query parameter {name!r} is given more than once")
    consistency = request.query.get("consistency")
    if consistency is not None and consistency not in _CONSISTENCY:
        raise InvalidRequest(f"consistency must be one of {', '.join(_CONSISTENCY)}")


def _precondition(request: web.Request, allow_absent: bool) -> tuple[Expect, int]:
    headers = request.headers
    return precondition(headers.get("If-Match"), headers.get("If-None-Match"), allow_absent)


def precondition(
    if_match: str | None, if_none_match: str | None, allow_absent: bool
) -> tuple[Expect, int]:
    if if_match is not None and if_none_match is not None:
        raise InvalidRequest("If-Match and If-None-Match cannot be combined")
    if if_match is not None:
        text = if_match.strip()
        if text == "*":
            return Expect.EXISTS, 0
        match = _REVISION.fullmatch(text)
        if not match or not 1 <= int(match.group(1)) < 2**63:
            raise InvalidRequest("If-Match must be a revision number (1 or more) or *")
        return Expect.REVISION, int(match.group(1))
    if if_none_match is not None:
        if not allow_absent or if_none_match.strip() != "*":
            raise InvalidRequest("If-None-Match supports only * (create-only) on PUT")
        return Expect.ABSENT, 0
    return Expect.ANY, 0


# The reply shapes of single-key requests, shared by these handlers and the lean client port
# (fastkv.py), so that both paths answer alike: (headers, body).
def item_reply(item: Item) -> tuple[dict[str, str], bytes]:
    return _revision_headers(item.revision, OCTETS), item.value


def written_reply(key: bytes, result: Result, **extra) -> tuple[dict[str, str], bytes]:
    body = {"key": key.decode(), "revision": result.revision, **extra}
    return _revision_headers(result.revision, JSON_TYPE), json.dumps(body).encode()


def _revision_headers(revision: int, content_type: str) -> dict[str, str]:
    return {
        "Content-Type": content_type,
        contract.REVISION_HEADER: str(revision),
        "ETag": f'"{revision}"',
    }


def _written(key: bytes, result: Result, **extra) -> web.Response:
    headers, body = written_reply(key, result, **extra)
    return web.Response(body=body, headers=headers)


def _stale(request: web.Request) -> bool:
    return request.query.get("consistency") == "stale"


async def put_key(request: web.Request) -> web.Response:
    _only_params(request, ())
    key = parse_key(request)
    expect, revision = _precondition(request, allow_absent=True)
    node = request.app[NODE]
    limit = node.settings.max_value_bytes
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"the value is {request.content_length} bytes; the limit is {limit}")
    value = await request.read()  # bounded by the app's client_max_size
    try:
        result = await node.put(key, value, expect, revision)
    except NotLeaderError as error:
        return await forward(request, node, error.leader, value)
    return _written(key, result, created=result.created)


async def get_key(request: web.Request) -> web.Response:
    _only_params(request, ("consistency",))
    key = parse_key(request)
    node = request.app[NODE]
    try:
        item = await node.get(key, stale=_stale(request))
    except NotLeaderError as error:
        return await forward(request, node, error.leader, b"")
    headers, body = item_reply(item)
    return web.Response(body=body, headers=headers)


async def delete_key(request: web.Request) -> web.Response:
    _only_params(request, ())
    key = parse_key(request)
    expect, revision = _precondition(request, allow_absent=False)
    node = request.app[NODE]
    try:
        result = await node.delete(key, expect, revision)
    except NotLeaderError as error:
        return await forward(request, node, error.leader, b"")
    return _written(key, result, deleted=True)


def _text_param(request: web.Request, name: str) -> bytes:
    text = request.query.get(name, "")
    encoded = text.encode("utf-8", "surrogateescape")
    try:
        encoded.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidRequest(f"{name} is not valid UTF-8") from error
    if len(encoded) > contract.MAX_KEY_BYTES:
        raise TooLarge(f"{name} is longer than {contract.MAX_KEY_BYTES} bytes")
    return encoded


def _token(next_key: bytes | None) -> str | None:
    if next_key is None:
        return None
    return base64.urlsafe_b64encode(next_key).decode().rstrip("=")


def _untoken(token: str) -> bytes:
    try:
        padded = token + "=" * (-len(token) % 4)
        key = base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as error:
        raise InvalidRequest("continue is not a token returned by a previous scan") from error
    if len(key) > contract.MAX_KEY_BYTES + 1:
        raise InvalidRequest("continue is not a token returned by a previous scan")
    return key


async def scan(request: web.Request) -> web.Response:
    _only_params(request, ("prefix", "start", "limit", "continue", "consistency"))
    node = request.app[NODE]
    prefix = _text_param(request, "prefix")
    start = _text_param(request, "start")
    if "continue" in request.query:
        start = _untoken(request.query["continue"])
    limit_text = request.query.get("limit", str(contract.DEFAULT_SCAN_LIMIT))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= node.settings.max_scan_limit:
        raise InvalidRequest(f"limit must be an integer from 1 to {node.settings.max_scan_limit}")
    try:
        items, next_key, revision = await node.scan(
            prefix, start, int(limit_text), stale=_stale(request)
        )
    except NotLeaderError as error:
        return await forward(request, node, error.leader, b"")
    body = {
        "items": [
            {
                "key": item.key.decode(),
                "value": base64.b64encode(item.value).decode(),
                "revision": item.revision,
            }
            for item in items
        ],
        "count": len(items),
        "next": _token(next_key),
        "revision": revision,
    }
    return web.json_response(body, headers={contract.REVISION_HEADER: str(revision)})
