"""What a plan asks the act phase to do; plain frozen values, compared in tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DRAIN, CANCEL_DRAIN, TRANSFER = "drain", "cancel_drain", "transfer_leadership"


@dataclass(frozen=True)
class NodeCall:
    kind: str  # DRAIN | CANCEL_DRAIN | TRANSFER
    pod: str
    to: str | None = None


@dataclass(frozen=True)
class Event:
    reason: str
    message: str
    warning: bool = False


@dataclass(frozen=True)
class Plan:
    apply: tuple[dict[str, Any], ...] = ()  # server-side apply, in order
    create: tuple[dict[str, Any], ...] = ()  # create if absent, never update
    delete: tuple[tuple[str, str], ...] = ()  # (kind, name)
    calls: tuple[NodeCall, ...] = ()
    events: tuple[Event, ...] = ()
    status: dict[str, Any] = field(default_factory=dict)
    requeue: float = 30.0
    message: str = ""

    def applied(self, kind: str, name: str | None = None) -> dict[str, Any] | None:
        for obj in self.apply:
            if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name):
                return obj
        return None
