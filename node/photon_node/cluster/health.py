"""The node's health: the checks behind /health/live, /health/startup and /health/ready, and
the leader it knows of (readiness needs one)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from photon_common import contract
from photon_node.cluster.gossip import MemberState

HEARTBEAT_STALE_SECONDS = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str = ""


class Health:
    """Mixed into Node: reads its lifecycle flags, driver and gossip."""

    def _storage_ok(self) -> bool:
        raft_failed = self.driver is not None and self.driver.failure is not None
        return not raft_failed and not self.corruption

    def live_checks(self) -> list[Check]:
        age = time.monotonic() - self._beat
        checks = [Check("event_loop", age < HEARTBEAT_STALE_SECONDS, f"heartbeat {age:.1f}s old")]
        if self.driver is not None and self.driver.core is not None:
            checks.append(Check("raft_loop", self.driver.alive, "raft loop has stopped"))
        return checks

    def startup_checks(self) -> list[Check]:
        reason = self.startup_error or "opening RocksDB and replaying its WAL"
        opened = self.started or (self.engine is not None)
        return [Check("storage_open", opened, reason), Check("recovery", self.started, reason)]

    def ready_checks(self) -> list[Check]:
        storage_reason = ""
        if self.driver is not None and self.driver.failure is not None:
            storage_reason = f"raft failed: {self.driver.failure}"
        elif self.corruption:
            storage_reason = f"corruption detected: {self.corruption}"
        return [
            *self.startup_checks(),
            Check("storage", not storage_reason, storage_reason),
            Check("leader", bool(self.leader_id()), "no leader known"),
            Check("not_draining", not self.draining, "node is drained"),
            Check("not_stopping", not self.stopping, "node is shutting down"),
        ]

    def leader_id(self) -> str:
        if self.driver is not None and self.driver.core is not None:
            return self.driver.core.leader
        if self.gossip is not None:  # a coordinator: any data node will route for us
            for node_id, m in self.gossip.members().items():
                if m.state is MemberState.ALIVE and contract.ROLE_DATA in m.meta.roles:
                    return node_id
        return ""
