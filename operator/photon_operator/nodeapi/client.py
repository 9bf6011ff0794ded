"""NodeApi: the calls the operator makes to one photon-node, by pod IP or via the API proxy."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from photon_common import contract

from ..model.observed import Sample

# (method, namespace, pod name, pod ip, path) -> (http status, body text)
Send = Callable[[str, str, str, str | None, str], Awaitable[tuple[int, str]]]


class NodeError(Exception):
    """The node answered with an error (status > 0) or could not be reached (status 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Proxy(Protocol):
    async def proxy(self, method: str, namespace: str, pod: str, port: int, rest: str) -> Any: ...


def direct(session: aiohttp.ClientSession, timeout: float) -> Send:
    async def send(method: str, ns: str, pod: str, ip: str | None, rest: str) -> tuple[int, str]:
        if not ip:
            raise NodeError(0, f"pod {pod} has no IP yet")
        url = f"http://{ip}:{contract.CLIENT_PORT}{rest}"
        try:
            async with session.request(
                method, url, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                return response.status, await response.text()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise NodeError(0, f"{pod} unreachable: {error!r}") from error

    return send


def proxied(api: Proxy) -> Send:
    async def send(method: str, ns: str, pod: str, ip: str | None, rest: str) -> tuple[int, str]:
        try:
            body = await api.proxy(method, ns, pod, contract.CLIENT_PORT, rest)
        except Exception as error:  # the wrapper's ApiError carries the node's status
            raise NodeError(getattr(error, "status", 0), str(error)) from error
        return 200, body if isinstance(body, str) else json.dumps(body)

    return send


class NodeApi:
    def __init__(self, send: Send) -> None:
        self._send = send

    async def _json(self, method: str, ns: str, pod: str, ip: str | None, rest: str) -> Any:
        status, text = await self._send(method, ns, pod, ip, rest)
        try:
            body = json.loads(text) if text else {}
        except ValueError:
            body = {"error": {"message": text[:200]}}
        if status >= 400:
            message = (body.get("error") or {}).get("message", text[:200])
            raise NodeError(status, f"{pod}: {message}")
        return body

    async def status(self, ns: str, pod: str, ip: str | None) -> dict[str, Any]:
        return await self._json("GET", ns, pod, ip, contract.CLUSTER_STATUS)

    async def drain(self, ns: str, pod: str, ip: str | None) -> dict[str, Any]:
        return await self._json("POST", ns, pod, ip, contract.ADMIN_DRAIN)

    async def cancel_drain(self, ns: str, pod: str, ip: str | None) -> dict[str, Any]:
        return await self._json("DELETE", ns, pod, ip, contract.ADMIN_DRAIN)

    async def transfer_leadership(
        self, ns: str, pod: str, ip: str | None, to: str | None
    ) -> dict[str, Any]:
        query = f"?{urlencode({'to': to})}" if to else ""
        return await self._json("POST", ns, pod, ip, contract.ADMIN_TRANSFER_LEADERSHIP + query)

    async def metrics(self, ns: str, pod: str, ip: str | None) -> tuple[Sample, ...]:
        status, text = await self._send("GET", ns, pod, ip, contract.METRICS_PATH)
        if status >= 400:
            raise NodeError(status, f"{pod}: metrics answered {status}")
        return parse_metrics(text)


def parse_metrics(text: str) -> tuple[Sample, ...]:
    samples = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.append(Sample(sample.name, dict(sample.labels), float(sample.value)))
    return tuple(samples)
