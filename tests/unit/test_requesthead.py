"""api/requesthead.py: which request heads the lean client port serves itself, and how it reads
them. Every None sends the connection to aiohttp, which must then answer the request instead."""

import pytest

from photon_common import contract
from photon_node.api.requesthead import parse_head

MAX_BODY = 1024


def head(*lines: str) -> bytes:
    return "\r\n".join(lines).encode("latin-1")


def test_a_plain_get_is_read_as_linearizable():
    request = parse_head(head("GET /kv/a%2Fb HTTP/1.1", "Host: x"), MAX_BODY)
    assert request is not None
    assert (request.method, request.target, request.stale, request.length) == (
        "GET", "/kv/a%2Fb", False, 0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("query", "stale"),
    [("?consistency=stale", True), ("?consistency=linearizable", False), ("", False)],
)
def test_get_consistency(query, stale):
    request = parse_head(head(f"GET /kv/k{query} HTTP/1.1"), MAX_BODY)
    assert request is not None and request.stale is stale and request.target == "/kv/k"


PUT_HEAD = (
    "PUT /kv/k HTTP/1.1",
    "Content-Length: 5",
    'If-Match: "7"',
    "Content-Type: text/plain",
    "Connection: keep-alive, close",
)


def test_a_put_carries_its_length_and_preconditions():
    request = parse_head(head(*PUT_HEAD), MAX_BODY)
    assert request is not None
    assert request.length == 5 and request.if_match == '"7"' and request.if_none_match is None
    assert request.content_type == "text/plain" and request.close is True


@pytest.mark.parametrize(
    "lines",
    [
        ("POST /kv/k HTTP/1.1",),  # another method
        ("GET /kv/k HTTP/1.0",),  # another protocol version
        ("GET /health/ready HTTP/1.1",),  # another path
        ("GET /kv/k?consistency=weird HTTP/1.1",),  # an unknown query
        ("GET /kv/k? HTTP/1.1",),  # an empty query
        ("PUT /kv/k?x=1 HTTP/1.1", "Content-Length: 1"),  # a query on a write
        ("PUT /kv/k HTTP/1.1", "Transfer-Encoding: chunked"),
        ("PUT /kv/k HTTP/1.1", "Expect: 100-continue", "Content-Length: 1"),
        ("GET /kv/k HTTP/1.1", "Connection: Upgrade", "Upgrade: websocket"),
        ("GET /kv/k HTTP/1.1", f"{contract.FORWARDED_HEADER}: n2"),  # already forwarded
        ("PUT /kv/k HTTP/1.1", "Content-Length: 1", "Content-Length: 1"),  # repeated
        ("PUT /kv/k HTTP/1.1", "Content-Length: -1"),
        ("PUT /kv/k HTTP/1.1", f"Content-Length: {MAX_BODY + 1}"),  # aiohttp answers 413
        ("GET /kv/k HTTP/1.1", "Content-Length: 3"),  # a body on a read
        ("GET /kv/k HTTP/1.1", "Bad Header: x"),  # not a header line
    ],
)
def test_anything_unusual_goes_to_aiohttp(lines):
    assert parse_head(head(*lines), MAX_BODY) is None
