"""The node's view of its cluster's members, and the loop that acts on it: every half second
(or when woken) it publishes this node's metadata if it changed, counts members by gossip
state, flags peers that speak no protocol we speak, and, on the leader only, applies the next
step of membership.plan (add a learner, promote a caught-up one, move leadership off a
draining leader, remove a draining member) one at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from photon_common import contract
from photon_node.cluster import membership
from photon_node.cluster.gossip import MemberState
from photon_node.cluster.raft.core import Role
from photon_node.cluster.transport import compatible
from photon_node.core.errors import Unavailable

logger = logging.getLogger(__name__)

MEMBERSHIP_INTERVAL = 0.5


class Members:
    """Mixed into Node: uses its settings, gossip, driver, metrics and drain flag."""

    async def _membership_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._membership_wake.wait(), MEMBERSHIP_INTERVAL)
            self._membership_wake.clear()
            self._publish_if_changed()
            self._update_member_gauges()
            self._check_protocols()
            driver = self.driver
            if driver is None or driver.core is None or driver.core.role is not Role.LEADER:
                continue
            action = membership.plan(self._membership_snapshot())
            if action is None:
                continue
            logger.info("membership: %s", action.describe())
            try:
                if action.kind == "transfer":
                    driver.transfer_leadership(action.node_id)
                    await asyncio.sleep(self.settings.raft_tick_ms / 1000 * 20)
                else:
                    assert action.config is not None
                    await asyncio.wait_for(driver.change_config(action.config), 10)
            except (Unavailable, TimeoutError) as error:
                logger.info("membership: %s did not complete: %s", action.describe(), error)

    def _check_protocols(self) -> None:
        """Say, once per peer, when a member speaks no protocol version we speak."""
        if self.gossip is None:
            return
        s = self.settings
        for node_id, member in self.gossip.members().items():
            meta = member.meta
            ok = compatible(s.protocol_version, s.min_protocol_version, meta.protocol,
                            meta.min_protocol)  # fmt: skip
            if not ok and node_id not in self.incompatible and member.state is MemberState.ALIVE:
                message = (
                    f"incompatible protocol: {node_id} speaks {meta.min_protocol}-{meta.protocol}, "
                    f"this node {s.min_protocol_version}-{s.protocol_version}; "
                    "they cannot be members of one cluster"
                )
                self.incompatible[node_id] = message
                logger.error("%s", message)
            elif ok:
                self.incompatible.pop(node_id, None)

    def _peers_view(self) -> dict[str, membership.Peer]:
        s = self.settings
        peers = {
            self.id: membership.Peer(self.id, s.peer_addr, (s.role,), True, self.draining, True)
        }
        if self.gossip is not None:
            for node_id, member in self.gossip.members().items():
                if node_id == self.id:
                    continue
                meta = member.meta
                peers[node_id] = membership.Peer(
                    node_id, meta.peer_addr, meta.roles, member.state is MemberState.ALIVE,
                    meta.draining,
                    compatible(s.protocol_version, s.min_protocol_version, meta.protocol,
                               meta.min_protocol),
                )  # fmt: skip
        return peers

    def _membership_snapshot(self) -> membership.Snapshot:
        assert self.driver is not None and self.driver.core is not None
        core = self.driver.core
        return membership.Snapshot(
            leader=self.id,
            config=core.log.config,
            peers=self._peers_view(),
            match={peer: p.match for peer, p in core.progress.items()},
            last_index=core.log.last_index,
            max_voters=self.settings.max_voters,
        )

    def _update_member_gauges(self) -> None:
        counts = dict.fromkeys(("alive", "suspect", "dead", "left"), 0)
        if self.gossip is not None:
            for member in self.gossip.members().values():
                counts[member.state.value] += 1
        for state, count in counts.items():
            self.metrics.gossip_members.labels(state).set(count)

    def effective_protocol(self) -> int:
        """The protocol every member speaks: the minimum over the Raft members."""
        version = self.settings.protocol_version
        if self.driver is None or self.driver.core is None:
            return version
        gossip = self.gossip.members() if self.gossip else {}
        for member in self.driver.core.log.config.members - {self.id}:
            known = gossip.get(member)
            version = min(version, known.meta.protocol if known else contract.MIN_PROTOCOL_VERSION)
        return version
