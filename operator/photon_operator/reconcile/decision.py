"""The mutable scratchpad one plan pass fills in; frozen into a Plan at the end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from photon_common import contract

from ..model.observed import Observed, Pod
from ..model.operation import Operation
from ..resources.statefulset import Release
from .actions import Event, NodeCall

# Rollouts go from the least to the most critical role; the data voters come last.
ROLL_ORDER = (contract.ROLE_OBSERVER, contract.ROLE_COORDINATOR, contract.ROLE_DATA)


@dataclass
class Condition:
    status: bool
    reason: str
    message: str


@dataclass
class Decision:
    releases: dict[str, Release]
    replicas: dict[str, int]
    partitions: dict[str, int]
    operation: Operation | None
    blocked: dict[str, Any] | None
    calls: list[NodeCall] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    conditions: dict[str, Condition] = field(default_factory=dict)
    message: str = ""
    active: bool = False  # an operation wants a short requeue
    hash_of: Callable[[str, Release], str] = lambda role, release: ""  # pod template hash

    def current(self, o: Observed, role: str) -> bool:
        """The StatefulSet has taken in the template we render now (revisions are comparable)."""
        found = o.sets.get(role)
        wanted = self.hash_of(role, self.releases[role])
        return found is not None and found.settled and found.template_hash == wanted

    def event(self, reason: str, message: str, *, warning: bool = False) -> None:
        self.events.append(Event(reason, message, warning))

    def condition(self, kind: str, status: bool, reason: str, message: str) -> None:
        self.conditions[kind] = Condition(status, reason, message)


def settled(o: Observed, pod: Pod, update_revision: str) -> bool:
    """Updated, ready and a Raft member (voter or learner) again."""
    return (
        pod.revision == update_revision
        and pod.ready
        and not pod.deleting
        and (o.is_member(pod.name) if pod.role == contract.ROLE_DATA else o.knows(pod.name))
    )
