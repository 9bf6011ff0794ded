"""Drain and leadership transfer, as the operator calls them through the admin API.

Draining is a flag persisted in the node's metadata and published in gossip; the membership
loop (node.py, on the leader) then moves leadership away and removes the node from the voters
once that is safe. `drain_status` reports how far that got.
"""

from __future__ import annotations

import asyncio
import logging

from photon_node.cluster import membership
from photon_node.cluster.raft.core import Role
from photon_node.cluster.raft.errors import NotLeaderError
from photon_node.core.errors import Conflict
from photon_node.core.rafttypes import Config

logger = logging.getLogger(__name__)

META_DRAINING = b"draining"


class Drain:
    """Mixed into Node: uses its driver, engine, gossip view and membership wake-up."""

    async def start_drain(self) -> dict:
        self._require_started()
        if not self.draining:
            driver = self.driver
            if driver is not None and driver.core is not None:
                config = driver.core.log.config
                if self.id in config.voters:
                    if not driver.core.leader:
                        raise Conflict("no leader is known; the node cannot be drained safely now")
                    safe, reason = membership.removal_is_safe(config, self._peers_view(), self.id)
                    if not safe:
                        raise Conflict(f"draining would break quorum: {reason}")
                await asyncio.to_thread(self.engine.set_meta, META_DRAINING, b"1")  # type: ignore[union-attr]
            self.draining = True
            self.metrics.draining.set(1)
            self._publish()
            self._membership_wake.set()
            logger.info("node %s is draining", self.id)
        return self.drain_status()

    async def cancel_drain(self) -> dict:
        self._require_started()
        if self.draining:
            if self.engine is not None:
                await asyncio.to_thread(self.engine.set_meta, META_DRAINING, None)
            self.draining = False
            self.metrics.draining.set(0)
            self._publish()
            logger.info("node %s: drain cancelled", self.id)
        return self.drain_status()

    def drain_status(self) -> dict:
        core = self.driver.core if self.driver is not None else None
        config = core.log.config if core is not None else Config()
        leader = core is not None and core.role is Role.LEADER
        steps = {
            "leadership_moved": not leader,
            "removed_from_voters": self.id not in config.voters,
            "removed_from_members": self.id not in config.members,
        }
        drained = self.draining and all(steps.values())
        state = "drained" if drained else ("draining" if self.draining else "none")
        return {"node": self.id, "draining": self.draining, "drained": drained,
                "state": state, "steps": steps}  # fmt: skip

    def transfer_leadership(self, target: str | None) -> str:
        _, driver = self._require_store()
        core = driver.core
        assert core is not None
        if core.role is not Role.LEADER:
            raise NotLeaderError(core.leader)
        if not target:
            peers = self._peers_view()
            candidates = [
                v for v in core.log.config.voters
                if v != self.id and (p := peers.get(v)) and p.alive and not p.draining
            ]  # fmt: skip
            if not candidates:
                raise Conflict("no other alive voter to transfer leadership to")
            target = max(sorted(candidates), key=lambda v: core.progress[v].match)
        if target not in core.log.config.voters:
            raise Conflict(f"{target} is not a voter")
        driver.transfer_leadership(target)
        return target
