"""Api: get, list, server-side apply, create-only, merge-patch status, delete, events, proxy."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp

from .config import Connection

logger = logging.getLogger(__name__)
FIELD_MANAGER = "photon-operator"
# kind -> (api prefix, plural)
KINDS = {
    "Secret": ("api/v1", "secrets"),
    "ConfigMap": ("api/v1", "configmaps"),
    "Service": ("api/v1", "services"),
    "Pod": ("api/v1", "pods"),
    "PersistentVolumeClaim": ("api/v1", "persistentvolumeclaims"),
    "Event": ("api/v1", "events"),
    "StatefulSet": ("apis/apps/v1", "statefulsets"),
    "PodDisruptionBudget": ("apis/policy/v1", "poddisruptionbudgets"),
    "PodMonitor": ("apis/monitoring.coreos.com/v1", "podmonitors"),
    "PhotonCluster": ("apis/photondb.io/v1alpha1", "photonclusters"),
    "PyralogNetwork": ("apis/photondb.io/v1alpha1", "pyralognetworks"),
}


def session() -> aiohttp.ClientSession:
    """The one HTTP session of the process (API server and nodes); closed at cleanup."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60, connect=10))


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


def path(kind: str, namespace: str, name: str | None = None) -> str:
    prefix, plural = KINDS[kind]
    out = f"/{prefix}/namespaces/{namespace}/{plural}"
    return f"{out}/{quote(name, safe='')}" if name else out


class Api:
    def __init__(self, connection: Connection, session: aiohttp.ClientSession) -> None:
        self.connection = connection
        self.session = session

    async def request(
        self, method: str, url: str, *, body: Any = None, content_type: str = "application/json"
    ) -> Any:
        headers = {**self.connection.headers(), "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = body if isinstance(body, bytes | str) else json.dumps(body)
        url, tls = self.connection.server + url, self.connection.ssl
        async with self.session.request(
            method, url, data=data, headers=headers, ssl=tls
        ) as response:
            text = await response.text()
            if response.status >= 400:
                try:
                    message = json.loads(text).get("message", text)
                except ValueError:
                    message = text
                raise ApiError(response.status, message)
            ctype = response.headers.get("Content-Type", "")
            return json.loads(text) if text and "json" in ctype else text

    async def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.request("GET", path(kind, namespace, name))
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    async def list(self, kind: str, namespace: str, selector: str) -> list[dict[str, Any]]:
        query = urlencode({"labelSelector": selector})
        return (await self.request("GET", f"{path(kind, namespace)}?{query}"))["items"]

    async def apply(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side apply with our field manager; creates or updates, idempotently."""
        meta = obj["metadata"]
        query = urlencode({"fieldManager": FIELD_MANAGER, "force": "true"})
        url = f"{path(obj['kind'], meta['namespace'], meta['name'])}?{query}"
        return await self.request(
            "PATCH", url, body=obj, content_type="application/apply-patch+yaml"
        )

    async def create(self, obj: Mapping[str, Any]) -> bool:
        """Create unless it exists (409 is fine); True when this call created it."""
        try:
            await self.request("POST", path(obj["kind"], obj["metadata"]["namespace"]), body=obj)
        except ApiError as error:
            if error.status == 409:
                return False
            raise
        return True

    async def patch_status(self, kind: str, namespace: str, name: str, patch: Any) -> None:
        url = path(kind, namespace, name) + "/status"
        await self.request("PATCH", url, body=patch, content_type="application/merge-patch+json")

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        try:
            await self.request("DELETE", path(kind, namespace, name))
        except ApiError as error:
            if error.status != 404:
                raise

    async def has_api(self, group_version: str, plural: str) -> bool:
        try:
            found = await self.request("GET", f"/apis/{group_version}")
        except ApiError:
            return False
        return any(r.get("name") == plural for r in found.get("resources", ()))

    async def proxy(self, method: str, namespace: str, pod: str, port: int, rest: str) -> Any:
        url = f"{path('Pod', namespace, pod)}:{port}/proxy{rest}"
        return await self.request(method, url)
