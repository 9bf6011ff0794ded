"""The node's public HTTP contract, against a real photon-node process."""

import base64

import pytest
from yarl import URL

from photon_client.client import key_path

pytestmark = pytest.mark.process


def kv(node, key: str) -> URL:
    return URL(node.url + key_path(key), encoded=True)


async def test_put_get_delete_roundtrip(node, http):
    async with http.put(kv(node, "greeting"), data=b"hello") as r:
        assert r.status == 200
        body = await r.json()
        assert body["key"] == "greeting" and body["revision"] >= 1 and body["created"] is True
        first = body["revision"]
        assert r.headers["X-Photon-Revision"] == str(first)
    async with http.get(kv(node, "greeting")) as r:
        assert r.status == 200 and await r.read() == b"hello"
        assert r.headers["X-Photon-Revision"] == str(first)
        assert r.headers["Content-Type"] == "application/octet-stream"
    async with http.put(kv(node, "greeting"), data=b"hi") as r:
        second = (await r.json())["revision"]
        assert second > first
    async with http.delete(kv(node, "greeting")) as r:
        assert r.status == 200
        assert (await r.json())["revision"] > second
    async with http.get(kv(node, "greeting")) as r:
        assert r.status == 404
        assert (await r.json())["error"]["code"] == "not_found"
    async with http.delete(kv(node, "greeting")) as r:
        assert r.status == 404


async def test_revisions_are_monotonic_across_keys(node, http):
    revisions = []
    for i in range(20):
        async with http.put(kv(node, f"k{i % 3}"), data=b"x") as r:
            revisions.append((await r.json())["revision"])
    assert revisions == sorted(revisions) and len(set(revisions)) == 20


async def test_compare_and_set(node, http):
    async with http.put(kv(node, "cas"), data=b"1") as r:
        rev = (await r.json())["revision"]
    async with http.put(kv(node, "cas"), data=b"2", headers={"If-Match": str(rev + 5)}) as r:
        assert r.status == 412
        error = (await r.json())["error"]
        assert error["code"] == "precondition_failed" and error["current_revision"] == rev
    async with http.put(kv(node, "cas"), data=b"2", headers={"If-Match": f'"{rev}"'}) as r:
        assert r.status == 200
        new_rev = (await r.json())["revision"]
    async with http.put(kv(node, "cas"), data=b"3", headers={"If-Match": str(rev)}) as r:
        assert r.status == 412  # the old revision no longer matches
    async with http.delete(kv(node, "cas"), headers={"If-Match": str(rev)}) as r:
        assert r.status == 412
    async with http.delete(kv(node, "cas"), headers={"If-Match": str(new_rev)}) as r:
        assert r.status == 200
    async with http.put(kv(node, "absent"), data=b"x", headers={"If-Match": "*"}) as r:
        assert r.status == 412


async def test_create_only(node, http):
    async with http.put(kv(node, "once"), data=b"a", headers={"If-None-Match": "*"}) as r:
        assert r.status == 200 and (await r.json())["created"] is True
    async with http.put(kv(node, "once"), data=b"b", headers={"If-None-Match": "*"}) as r:
        assert r.status == 412
    async with http.get(kv(node, "once")) as r:
        assert await r.read() == b"a"


@pytest.mark.parametrize(
    "key",
    ["a/b/c", "ключ", "emoji-😀", "spaces and ?query&chars#", "%41literal", "x" * 1024, "..", "."],
)
async def test_arbitrary_utf8_keys(node, http, key):
    async with http.put(kv(node, key), data=key.encode()) as r:
        assert r.status == 200, await r.text()
        assert (await r.json())["key"] == key
    async with http.get(kv(node, key)) as r:
        assert r.status == 200 and await r.read() == key.encode()


async def test_binary_and_empty_values(node, http):
    blob = bytes(range(256)) * 4
    async with http.put(kv(node, "bin"), data=blob) as r:
        assert r.status == 200
    async with http.get(kv(node, "bin")) as r:
        assert await r.read() == blob
    async with http.put(kv(node, "empty"), data=b"") as r:
        assert r.status == 200
    async with http.get(kv(node, "empty")) as r:
        assert r.status == 200 and await r.read() == b""


async def test_value_at_the_limit_is_accepted(node, http):
    value = b"v" * (1024 * 1024)
    async with http.put(kv(node, "max"), data=value) as r:
        assert r.status == 200
    async with http.get(kv(node, "max")) as r:
        assert await r.read() == value


async def test_scan_pages_through_a_prefix_in_key_order(node, http):
    keys = [f"user/{i:03d}" for i in range(25)]
    for key in reversed(keys):
        async with http.put(kv(node, key), data=key.encode()) as r:
            assert r.status == 200
    async with http.put(kv(node, "userz"), data=b"outside") as r:
        assert r.status == 200
    seen, token, pages = [], None, 0
    while True:
        params = {"prefix": "user/", "limit": "10"}
        if token:
            params["continue"] = token
        async with http.get(f"{node.url}/kv", params=params) as r:
            assert r.status == 200
            page = await r.json()
        pages += 1
        for item in page["items"]:
            assert base64.b64decode(item["value"]) == item["key"].encode()
            assert item["revision"] >= 1
        seen += [item["key"] for item in page["items"]]
        token = page["next"]
        if token is None:
            break
    assert seen == keys and pages == 3
    async with http.get(f"{node.url}/kv", params={"start": "user/020", "limit": "3"}) as r:
        page = await r.json()
        assert [i["key"] for i in page["items"]] == ["user/020", "user/021", "user/022"]
        assert page["next"] is not None


async def test_cluster_status_describes_the_node(node, http):
    async with http.get(f"{node.url}/cluster/status") as r:
        status = await r.json()
    assert status["id"] == "n1"
    assert status["version"] and status["protocol_version"] >= 1
    assert status["role"] == "data" and status["state"] == "ready" and status["ready"] is True


async def test_the_last_voter_refuses_to_drain(node, http):
    async with http.post(f"{node.url}/admin/drain") as r:
        assert r.status == 409
        assert "last voter" in (await r.json())["error"]["message"]
    async with http.get(f"{node.url}/admin/drain") as r:
        assert (await r.json())["state"] == "none"
    async with http.get(f"{node.url}/health/ready") as r:
        assert r.status == 200
