"""Bad input gets a 4xx with a JSON error body; no input produces a 5xx or hurts the node."""

import asyncio
import io
import random
import socket

import aiohttp
import pytest
from yarl import URL

pytestmark = pytest.mark.process

MIB = 1024 * 1024

CASES = [
    # (method, path, headers, body, expected status)
    ("PUT", "/kv/", {}, b"x", 400),  # empty key
    ("PUT", "/kv/%zz", {}, b"x", 400),  # malformed percent-encoding
    ("PUT", "/kv/%ff%fe", {}, b"x", 400),  # not UTF-8
    ("PUT", "/kv/" + "k" * 1025, {}, b"x", 413),  # key over 1 KiB
    ("PUT", "/kv/" + "%C3%A9" * 513, {}, b"x", 413),  # 1026 bytes once decoded
    ("PUT", "/kv/big", {}, b"v" * (MIB + 1), 413),  # value over the limit
    ("PUT", "/kv/k", {"If-Match": "abc"}, b"x", 400),
    ("PUT", "/kv/k", {"If-Match": "-1"}, b"x", 400),
    ("PUT", "/kv/k", {"If-Match": "0"}, b"x", 400),
    ("PUT", "/kv/k", {"If-Match": "99999999999999999999999"}, b"x", 400),
    ("PUT", "/kv/k", {"If-None-Match": "5"}, b"x", 400),
    ("PUT", "/kv/k", {"If-None-Match": "*", "If-Match": "1"}, b"x", 400),
    ("DELETE", "/kv/k", {"If-None-Match": "*"}, b"", 400),
    ("PUT", "/kv/k?x=1", {}, b"x", 400),  # unknown parameter
    ("GET", "/kv/k?consistency=eventual", {}, b"", 400),
    ("GET", "/kv?limit=0", {}, b"", 400),
    ("GET", "/kv?limit=100000", {}, b"", 400),
    ("GET", "/kv?limit=ten", {}, b"", 400),
    ("GET", "/kv?limit=1&limit=2", {}, b"", 400),
    ("GET", "/kv?continue=***", {}, b"", 400),
    ("GET", "/kv?prefix=" + "p" * 1025, {}, b"", 413),
    ("GET", "/kv?sort=desc", {}, b"", 400),
    ("POST", "/kv/k", {}, b"x", 405),
    ("PATCH", "/kv/k", {}, b"x", 405),
    ("DELETE", "/kv", {}, b"", 405),
    ("PUT", "/health/ready", {}, b"", 405),
    ("GET", "/nope", {}, b"", 404),
    ("GET", "/kvx", {}, b"", 404),
    ("GET", "/admin/unknown", {}, b"", 404),
]


@pytest.mark.parametrize(("method", "path", "headers", "body", "status"), CASES)
async def test_bad_request_gets_json_4xx(node, http, method, path, headers, body, status):
    async with http.request(
        method, URL(node.url + path, encoded=True), headers=headers, data=io.BytesIO(body)
    ) as r:
        assert r.status == status, await r.text()
        assert r.headers["Content-Type"].startswith("application/json")
        error = (await r.json())["error"]
        assert error["code"] and error["message"]


async def test_chunked_oversized_body_is_rejected(node, http):
    async def chunks():
        for _ in range(5):
            yield b"z" * (300 * 1024)

    async with http.put(node.url + "/kv/chunked", data=chunks()) as r:
        assert r.status == 413
        assert (await r.json())["error"]["code"] == "too_large"
    async with http.get(node.url + "/kv/chunked") as r:
        assert r.status == 404  # nothing was stored


async def test_random_garbage_never_yields_5xx(node, http):
    rng = random.Random(1234)
    alphabet = "abc/%?&=#~.;é😀\\%00%2F%ZZ"
    methods = ["GET", "PUT", "DELETE", "POST", "HEAD", "OPTIONS", "PATCH"]
    headers_pool = [{}, {"If-Match": "x"}, {"If-None-Match": "*"}, {"If-Match": "*"},
                    {"Content-Type": "text/plain"}, {"If-Match": '"3"'}]  # fmt: skip
    for _ in range(400):
        path = (
            "/"
            + rng.choice(["kv/", "kv", "health/", "admin/", "_metrics", ""])
            + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        )
        method = rng.choice(methods)
        body = rng.randbytes(rng.randint(0, 64)) if method in ("PUT", "POST") else None
        url = URL(node.url + path.replace(" ", "%20"), encoded=True)
        headers = rng.choice(headers_pool)
        try:
            async with http.request(
                method, url, headers=headers, data=body, skip_auto_headers=("Content-Type",)
            ) as r:
                await r.read()
                assert r.status < 500, f"{method} {path} -> {r.status}"
        except aiohttp.ClientResponseError as error:  # the HTTP parser refused the request line
            assert error.status < 500, f"{method} {path} -> {error.status}"
        except ValueError:
            continue  # the client refused to send it; not the server's concern
    async with http.get(node.url + "/health/ready") as r:
        assert r.status == 200


async def test_malformed_http_does_not_hurt_the_node(node, http):
    def raw(payload: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", node.port), timeout=5) as sock:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            return sock.recv(4096)

    for payload in [
        b"GARBAGE\r\n\r\n",
        b"PUT /kv/a HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"PUT /kv/a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nshort",
        b"GET /kv/a HTTP/1.1\r\n" + b"X-Long: " + b"h" * 100000 + b"\r\n\r\n",
        b"\x00\x01\x02\x03" * 100,
    ]:
        answer = await asyncio.to_thread(raw, payload)
        assert not answer.startswith(b"HTTP/1.1 5"), answer[:200]
    async with http.get(node.url + "/kv/a") as r:
        assert r.status == 404  # the truncated PUT stored nothing
    async with http.get(node.url + "/health/ready") as r:
        assert r.status == 200
