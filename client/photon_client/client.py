"""Asyncio client for one PhotonDB endpoint (a node, or the cluster's client Service)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from photon_common import contract


class PhotonError(Exception):
    """A request answered with an error status; carries the server's JSON error."""

    def __init__(self, status: int, code: str, message: str, body: dict | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body or {}


@dataclass(frozen=True)
class Entry:
    key: str
    value: bytes
    revision: int


def key_path(key: str) -> str:
    """Percent-encode a key as one path segment: '/' too, and '.' or '..' so nobody
    normalises them away."""
    encoded = quote(key, safe="")
    if key in (".", ".."):
        encoded = encoded.replace(".", "%2E")
    return f"{contract.KV_PREFIX}/{encoded}"


class PhotonClient:
    def __init__(
        self,
        endpoint: str,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        if "://" not in self.endpoint:
            self.endpoint = "http://" + self.endpoint
        self._own = session is None
        self._session = session or aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout),
            connector=aiohttp.TCPConnector(limit=0),
        )

    async def __aenter__(self) -> PhotonClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own:
            await self._session.close()

    async def _request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any, Any]:
        async with self._session.request(method, self.endpoint + path, **kwargs) as response:
            body = await response.read()
            if response.status >= 400:
                try:
                    error = (await response.json(content_type=None))["error"]
                    raise PhotonError(response.status, error["code"], error["message"], error)
                except (ValueError, KeyError, TypeError):
                    raise PhotonError(
                        response.status, "http_error", body.decode("utf-8", "replace")
                    ) from None
            return response.status, response.headers, body

    async def put(
        self, key: str, value: bytes, *, if_revision: int | None = None, create_only=False
    ) -> int:
        headers = {}
        if if_revision is not None:
            headers["If-Match"] = str(if_revision)
        if create_only:
            headers["If-None-Match"] = "*"
        _, _, body = await self._request("PUT", key_path(key), data=value, headers=headers)
        return json.loads(body)["revision"]

    async def get(self, key: str, *, stale: bool = False) -> Entry:
        params = {"consistency": "stale"} if stale else None
        _, headers, body = await self._request("GET", key_path(key), params=params)
        return Entry(key, body, int(headers[contract.REVISION_HEADER]))

    async def delete(self, key: str, *, if_revision: int | None = None) -> int:
        headers = {"If-Match": str(if_revision)} if if_revision is not None else {}
        _, _, body = await self._request("DELETE", key_path(key), headers=headers)
        return json.loads(body)["revision"]

    async def scan_page(
        self, prefix: str = "", start: str = "", limit: int = 100, token: str | None = None
    ) -> tuple[list[Entry], str | None]:
        params = {"limit": str(limit)}
        if prefix:
            params["prefix"] = prefix
        if start:
            params["start"] = start
        if token:
            params["continue"] = token
        _, _, body = await self._request("GET", contract.KV_PREFIX, params=params)
        data = json.loads(body)
        items = [
            Entry(i["key"], base64.b64decode(i["value"]), i["revision"]) for i in data["items"]
        ]
        return items, data["next"]

    async def scan(self, prefix: str = "", start: str = "", page: int = 100) -> list[Entry]:
        entries: list[Entry] = []
        token: str | None = None
        while True:
            items, token = await self.scan_page(prefix, start, page, token)
            entries.extend(items)
            if token is None:
                return entries

    async def _json(self, method: str, path: str) -> dict:
        _, _, body = await self._request(method, path)
        return json.loads(body)

    async def status(self) -> dict:
        return await self._json("GET", contract.CLUSTER_STATUS)

    async def drain(self) -> dict:
        return await self._json("POST", contract.ADMIN_DRAIN)

    async def drain_status(self) -> dict:
        return await self._json("GET", contract.ADMIN_DRAIN)

    async def cancel_drain(self) -> dict:
        return await self._json("DELETE", contract.ADMIN_DRAIN)

    async def transfer_leadership(self, to: str | None = None) -> dict:
        params = {"to": to} if to else None
        _, _, body = await self._request("POST", contract.ADMIN_TRANSFER_LEADERSHIP, params=params)
        return json.loads(body)

    async def probe(self, path: str) -> tuple[int, str]:
        async with self._session.get(self.endpoint + path) as response:
            return response.status, await response.text()
