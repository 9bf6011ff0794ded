"""The client port's two paths on one connection, over raw sockets to a real node: single-key
requests served by fastkv, anything else handed to aiohttp with the bytes already read."""

import json
import socket

import pytest

pytestmark = pytest.mark.process


class Conn:
    """A raw HTTP/1.1 connection that reads answers by Content-Length or chunked encoding."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buffer += chunk

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = (line.partition(":") for line in lines[1:])
        headers = {name.strip().lower(): value.strip() for name, _, value in fields}
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                while b"\r\n" not in self.buffer:
                    self._fill()
                size_line, _, self.buffer = self.buffer.partition(b"\r\n")
                size = int(size_line, 16)
                while len(self.buffer) < size + 2:
                    self._fill()
                body, self.buffer = body + self.buffer[:size], self.buffer[size + 2 :]
                if size == 0:
                    return status, headers, body
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, headers, body

    def closed_by_server(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


def put(key: str, value: bytes, extra: str = "") -> bytes:
    head = f"PUT /kv/{key} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(value)}\r\n{extra}\r\n"
    return head.encode() + value


def get(key: str, query: str = "") -> bytes:
    return f"GET /kv/{key}{query} HTTP/1.1\r\nHost: t\r\n\r\n".encode()


@pytest.fixture
def conn(node):
    connection = Conn(node.port)
    yield connection
    connection.close()


def test_keep_alive_pipelining_answers_in_order(conn):
    conn.send(put("p1", b"one") + put("p2", b"two") + get("p1") + get("p2", "?consistency=stale"))
    first, second = conn.answer(), conn.answer()
    assert first[0] == second[0] == 200
    assert json.loads(first[2])["revision"] < json.loads(second[2])["revision"]
    assert json.loads(first[2])["created"] is True
    assert conn.answer()[2] == b"one"
    status, headers, body = conn.answer()
    assert (status, body) == (200, b"two")
    assert headers["etag"] == f'"{headers["x-photon-revision"]}"'
    assert headers["content-type"] == "application/octet-stream"


def test_a_body_in_pieces_and_a_missing_key(conn):
    request = put("pieces", b"x" * 5000)
    for i in range(0, len(request), 700):
        conn.send(request[i : i + 700])
    assert conn.answer()[0] == 200
    conn.send(get("absent"))
    status, headers, body = conn.answer()
    assert status == 404 and headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == "not_found"


def test_bad_requests_get_json_errors_on_either_path(conn):
    conn.send(put("k", b"v"))
    assert conn.answer()[0] == 200
    conn.send(put("bad%zz", b"v"))  # served by fastkv: the key is malformed
    status, _, body = conn.answer()
    assert status == 400 and json.loads(body)["error"]["code"] == "invalid_request"
    conn.send(put("k", b"v", "If-Match: 1\r\nIf-None-Match: *\r\n"))
    status, _, body = conn.answer()
    assert status == 400 and "cannot be combined" in json.loads(body)["error"]["message"]
    conn.send(get("k", "?consistency=maybe"))  # an unknown value: handed to aiohttp
    status, _, body = conn.answer()
    assert status == 400 and "consistency" in json.loads(body)["error"]["message"]
    conn.send(get("k") + get("k", "?consistency=stale"))  # still answered, by aiohttp now
    assert conn.answer()[0] == 200 and conn.answer()[0] == 200


def test_other_paths_and_chunked_bodies_go_to_aiohttp(conn):
    conn.send(put("before", b"1") + b"GET /health/live HTTP/1.1\r\nHost: t\r\n\r\n")
    assert conn.answer()[0] == 200
    status, _, body = conn.answer()
    assert status == 200 and b"event_loop ok" in body
    chunked = (
        b"PUT /kv/chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    conn.send(chunked + get("chunked"))
    assert conn.answer()[0] == 200
    assert conn.answer()[2] == b"abcde"


def test_too_large_and_connection_close(node, conn):
    limit = 1024 * 1024  # the default max_value_bytes
    conn.send(f"PUT /kv/big HTTP/1.1\r\nHost: t\r\nContent-Length: {limit + 1}\r\n\r\n".encode())
    status, _, body = conn.answer()
    assert status == 413 and json.loads(body)["error"]["code"] == "too_large"
    other = Conn(node.port)
    try:
        other.send(put("closing", b"v", "Connection: close\r\n"))
        status, headers, _ = other.answer()
        assert status == 200 and headers["connection"] == "close"
        assert other.closed_by_server()
    finally:
        other.close()


def test_a_long_pipeline_is_answered_in_full_and_in_order(conn):
    """More pipelined requests than the read limit (1 MiB + 64 KiB) and answers that fill the
    transport: reading and writing pause and resume, nothing is lost or reordered."""
    import threading

    conn.send(put("flood", b"v"))
    assert conn.answer()[0] == 200
    requests = [get("flood") if i % 2 else get("nothing") for i in range(40000)]
    sender = threading.Thread(target=conn.send, args=(b"".join(requests),))
    sender.start()
    statuses = [conn.answer()[0] for _ in requests]
    sender.join(30)
    assert statuses == [200 if i % 2 else 404 for i in range(40000)]


def test_both_paths_answer_alike(node):
    """The same requests on a fresh connection (fastkv) and after a hand-over (aiohttp) get the
    same status, reply headers and body shape."""

    def exchange(conn: Conn, key: str) -> list[tuple[int, dict[str, str], bytes]]:
        answers = []
        stale_write = put(key, b"", "If-Match: 1\r\n")
        for request in (put(key, b"v1"), put(key, b"v2"), get(key), stale_write):
            conn.send(request)
            answers.append(conn.answer())
        conn.send(f"DELETE /kv/{key} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        answers.append(conn.answer())
        return answers

    def shape(answer: tuple[int, dict[str, str], bytes]) -> tuple:
        status, headers, body = answer
        kept = {"content-type", "etag", "x-photon-revision"}
        named = {name: bool(value) for name, value in headers.items() if name in kept}
        content = sorted(json.loads(body)) if "json" in headers["content-type"] else body
        return status, headers["content-type"], sorted(named), content

    fast, handed = Conn(node.port), Conn(node.port)
    try:
        handed.send(b"GET /health/live HTTP/1.1\r\nHost: t\r\n\r\n")  # the rest goes to aiohttp
        assert handed.answer()[0] == 200
        on_fast, on_aiohttp = exchange(fast, "alike-a"), exchange(handed, "alike-b")
    finally:
        fast.close()
        handed.close()
    assert [shape(a) for a in on_fast] == [shape(a) for a in on_aiohttp]
    assert [a[0] for a in on_fast] == [200, 200, 200, 412, 200]
    for _, headers, _ in on_fast[:3]:
        assert headers["etag"].strip('"').isdigit(), headers
