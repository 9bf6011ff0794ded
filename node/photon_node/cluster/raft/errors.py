"""Errors a Raft driver's callers see (the API layer maps them to HTTP answers)."""

from __future__ import annotations

from photon_node.core.errors import Unavailable


class NotLeaderError(Unavailable):
    """This node is not the leader; `leader` names the one it knows of (or '')."""

    code = "not_leader"

    def __init__(self, leader: str) -> None:
        super().__init__(f"not the leader; leader is {leader or 'unknown'}", leader=leader)
        self.leader = leader


class OutcomeUnknown(Unavailable):
    code = "outcome_unknown"
