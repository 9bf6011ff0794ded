"""Fakes of our own two wrappers (never of HTTP internals): an in-memory API and nodes."""

from __future__ import annotations

import copy
from typing import Any

from photon_operator.nodeapi.client import NodeError


class FakeApi:
    def __init__(self, objects: dict[tuple[str, str], dict[str, Any]] | None = None) -> None:
        self.objects = objects or {}
        self.log: list[tuple[str, str, str]] = []
        self.status_patches: list[dict[str, Any]] = []
        self.apis: set[str] = set()

    async def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.objects.get((kind, name))
        return copy.deepcopy(found) if found else None

    async def list(self, kind: str, namespace: str, selector: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(o) for (k, _), o in sorted(self.objects.items()) if k == kind]

    async def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.log.append(("apply", obj["kind"], obj["metadata"]["name"]))
        self.objects[(obj["kind"], obj["metadata"]["name"])] = copy.deepcopy(obj)
        return obj

    async def create(self, obj: dict[str, Any]) -> bool:
        name = obj["metadata"].get("name") or obj["metadata"]["generateName"]
        self.log.append(("create", obj["kind"], name))
        if obj["kind"] == "Event":
            return True
        if (obj["kind"], name) in self.objects:
            return False
        self.objects[(obj["kind"], name)] = copy.deepcopy(obj)
        return True

    async def patch_status(self, kind: str, namespace: str, name: str, patch: Any) -> None:
        self.status_patches.append(patch)
        body = self.objects[(kind, name)]
        body["status"] = _merge(body.get("status") or {}, patch["status"])

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        self.log.append(("delete", kind, name))
        self.objects.pop((kind, name), None)

    async def has_api(self, group_version: str, plural: str) -> bool:
        return f"{group_version}/{plural}" in self.apis


def _merge(old: Any, patch: Any) -> Any:
    if not isinstance(patch, dict) or not isinstance(old, dict):
        return patch
    out = dict(old)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


class FakeNodes:
    def __init__(self, statuses: dict[str, dict[str, Any]] | None = None) -> None:
        self.statuses = statuses or {}
        self.calls: list[tuple[str, str]] = []
        self.refuse: str | None = None

    async def status(self, ns: str, pod: str, ip: str | None) -> dict[str, Any]:
        if pod not in self.statuses:
            raise NodeError(0, f"{pod} unreachable")
        return self.statuses[pod]

    async def drain(self, ns: str, pod: str, ip: str | None) -> dict[str, Any]:
        self.calls.append(("drain", pod))
        if self.refuse:
            raise NodeError(409, f"{pod}: {self.refuse}")
        return {"node": pod, "draining": True}

    async def cancel_drain(self, ns: str, pod: str, ip: str | None) -> dict[str, Any]:
        self.calls.append(("cancel_drain", pod))
        return {}

    async def transfer_leadership(self, ns: str, pod: str, ip: str | None, to: str | None) -> Any:
        self.calls.append(("transfer_leadership", pod))
        return {"from": pod, "to": to}

    async def metrics(self, ns: str, pod: str, ip: str | None) -> tuple:
        return ()
