"""The head of a single-key request, as the lean client port (fastkv.py) reads it: plain
HTTP/1.1 GET, PUT or DELETE of /kv/{key}, nothing unusual. Anything else parses to None, and
the connection goes to aiohttp, which answers it (or its 4xx) by its own rules."""

from __future__ import annotations

import re
from dataclasses import dataclass

from photon_common import contract

_REQUEST_LINE = re.compile(rb"(GET|PUT|DELETE) (/kv/[!-\"$-~]+) HTTP/1\.1")
_HEADER = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([\t\x20-\x7e\x80-\xff]*?)[ \t]*")
_GET_QUERIES = {b"": False, b"consistency=stale": True, b"consistency=linearizable": False}
_REFUSED = frozenset(
    {b"transfer-encoding", b"expect", b"upgrade", contract.FORWARDED_HEADER.lower().encode()}
)
MAX_HEAD = 64 * 1024  # a bigger head goes to aiohttp, which answers 431 by its own limits


@dataclass(slots=True)
class Request:
    method: str
    target: str  # the raw (percent-encoded) path, without the query for a GET
    stale: bool
    length: int
    if_match: str | None
    if_none_match: str | None
    content_type: str | None
    close: bool


def parse_head(head: bytes, max_body: int) -> Request | None:
    """The request, if it is one this path serves; None hands the connection to aiohttp."""
    lines = head.split(b"\r\n")
    line = _REQUEST_LINE.fullmatch(lines[0])
    if line is None:
        return None
    method, target = line.group(1).decode(), line.group(2)
    stale = False
    if method == "GET":
        path, _, query = target.partition(b"?")
        stale = _GET_QUERIES.get(query)  # type: ignore[assignment]
        if stale is None or (b"?" in target and not query):
            return None
        target = path
    elif b"?" in target:
        return None
    length, seen = 0, set()
    fields: dict[bytes, bytes] = {}
    close = False
    for raw in lines[1:]:
        header = _HEADER.fullmatch(raw)
        if header is None:
            return None
        name, value = header.group(1).lower(), header.group(2)
        if name in _REFUSED:
            return None
        if name in (b"content-length", b"if-match", b"if-none-match", b"content-type"):
            if name in seen:
                return None
            seen.add(name)
            fields[name] = value
        elif name == b"connection":
            tokens = {t.strip() for t in value.lower().split(b",")}
            if b"upgrade" in tokens:
                return None
            close = close or b"close" in tokens
    if b"content-length" in fields:
        text = fields[b"content-length"]
        if not text.isdigit() or len(text) > 12:
            return None
        length = int(text)
    if length > max_body or (length and method != "PUT"):
        return None  # aiohttp answers 413, or serves the odd body
    return Request(
        method, target.decode("ascii"), stale, length,
        _text(fields.get(b"if-match")), _text(fields.get(b"if-none-match")),
        _text(fields.get(b"content-type")), close,
    )  # fmt: skip


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
