"""Long operations as resumable state, stored in `status.operation`.

Exactly one operation runs at a time. Each pass reads it back from the object, so an operator
restart resumes where the previous process stopped: the state is the API object, not memory.
Timestamps are RFC 3339 strings, as users read them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SCALE_OUT, SCALE_IN, ROLLOUT = "ScaleOut", "ScaleIn", "Rollout"
# Rollout steps
PENDING, TRANSFERRING = "Pending", "TransferringLeadership"
UPDATING, GATING, PAUSED = "Updating", "Gating", "Paused"


def iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(text: str | None) -> float:
    if not text:
        return 0.0
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


class _Record:
    """to_dict/from_dict with camelCase keys; tuples become lists."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.TYPE}  # type: ignore[attr-defined]
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[_camel(f.name)] = value
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Any:
        names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        values = {}
        for key, value in raw.items():
            name = _snake(key)
            if name in names:
                values[name] = tuple(value) if isinstance(value, list) else value
        return cls(**values)


@dataclass(frozen=True)
class ScaleOut(_Record):
    TYPE = SCALE_OUT
    role: str
    source: int
    target: int
    started: str


@dataclass(frozen=True)
class ScaleIn(_Record):
    """Drain victims one at a time, highest ordinal first; shrink only after each confirms."""

    TYPE = SCALE_IN
    role: str
    source: int
    target: int
    started: str
    victim: str | None = None  # the node being drained now
    drain_started: str | None = None
    removed: tuple[str, ...] = ()
    refusal: str | None = None  # the node's 409 message, while it refuses


@dataclass(frozen=True)
class Rollout(_Record):
    """Move every role's partition from `replicas` down to 0, one batch at a time."""

    TYPE = ROLLOUT
    from_version: str
    to_version: str
    from_image: str
    to_image: str
    roles: tuple[str, ...]  # roles still to roll; roles[0] is in progress
    partition: int
    step: str
    step_started: str
    started: str
    pods: tuple[str, ...] = ()
    rollback: bool = False
    gate_since: Mapping[str, str] = field(default_factory=dict)  # gate index -> held since
    baseline: Mapping[str, float] = field(default_factory=dict)  # gate index -> start value
    paused_generation: int | None = None
    failure: str | None = None  # condition reason of the failure: GateFailed, CrashLoop, ...
    reason: str | None = None  # its message

    @property
    def role(self) -> str:
        return self.roles[0]


Operation = ScaleOut | ScaleIn | Rollout
_TYPES: dict[str, type[Any]] = {SCALE_OUT: ScaleOut, SCALE_IN: ScaleIn, ROLLOUT: Rollout}


def load(raw: Mapping[str, Any] | None) -> Operation | None:
    if not raw or raw.get("type") not in _TYPES:
        return None
    return _TYPES[raw["type"]].from_dict({k: v for k, v in raw.items() if k != "type"})
