"""Leader-side membership reconciliation: from the gossip view and Raft progress, decide the next
single change — add a learner, promote one, move leadership off a draining leader, remove a
draining member. Pure: `plan` takes a snapshot and returns one action or None; the node applies
it and plans again once it has committed.

Rules, in order:
1. A draining leader hands leadership to the most caught-up alive, non-draining voter.
2. Before a draining voter is removed, a caught-up learner is promoted in its place if one exists.
3. A draining member (voter or learner) is removed, if the voters left still have an alive quorum.
4. An alive, non-draining data or observer node that speaks a compatible protocol and is not a
   member is added as a learner.
5. A caught-up data learner is promoted while the voters are fewer than the target: the largest
   odd number not above max_voters and the eligible data members (never demoting anyone).
"""

from __future__ import annotations

from dataclasses import dataclass

from photon_common import contract
from photon_node.core.rafttypes import Config

CATCH_UP_LAG = 64


@dataclass(frozen=True)
class Peer:
    node_id: str
    peer_addr: str
    roles: tuple[str, ...]
    alive: bool
    draining: bool
    compatible: bool


@dataclass(frozen=True)
class Snapshot:
    leader: str
    config: Config
    peers: dict[str, Peer]  # gossip view, including the leader itself
    match: dict[str, int]  # Raft progress of each member
    last_index: int
    max_voters: int


@dataclass(frozen=True)
class Action:
    kind: str  # add_learner | promote | remove | transfer
    node_id: str
    config: Config | None = None

    def describe(self) -> str:
        return f"{self.kind} {self.node_id}"


def quorum(voters: int) -> int:
    return voters // 2 + 1


def _caught_up(s: Snapshot, node_id: str) -> bool:
    return s.match.get(node_id, 0) >= s.last_index - CATCH_UP_LAG


def _usable(s: Snapshot, node_id: str) -> bool:
    peer = s.peers.get(node_id)
    return bool(peer and peer.alive and not peer.draining)


def removal_is_safe(config: Config, peers: dict[str, Peer], node_id: str) -> tuple[bool, str]:
    """Would the voters left after removing node_id still have an alive quorum?"""
    if node_id not in config.voters:
        return True, ""
    remaining = config.voters - {node_id}
    if not remaining:
        return False, f"{node_id} is the last voter"
    alive = [v for v in remaining if (p := peers.get(v)) and p.alive]
    need = quorum(len(remaining))
    if len(alive) < need:
        return False, (
            f"removing {node_id} leaves {len(alive)} of {len(remaining)} voters alive; "
            f"a quorum needs {need}"
        )
    return True, ""


def target_voters(s: Snapshot) -> int:
    eligible = [
        m for m in s.config.members
        if (p := s.peers.get(m)) and contract.ROLE_DATA in p.roles and not p.draining
    ]  # fmt: skip
    target = min(s.max_voters, max(len(eligible), 1))
    return target if target % 2 or target == 1 else target - 1


def plan(s: Snapshot) -> Action | None:
    config = s.config
    draining = sorted(m for m in config.members if (p := s.peers.get(m)) and p.draining)
    learners = sorted(
        m for m in config.learners
        if _usable(s, m) and contract.ROLE_DATA in s.peers[m].roles and _caught_up(s, m)
    )  # fmt: skip
    for node_id in draining:
        if node_id == s.leader:
            others = [v for v in config.voters if v != s.leader and _usable(s, v)]
            if others:
                best = max(sorted(others), key=lambda v: s.match.get(v, 0))
                return Action("transfer", best)
            continue
        if node_id in config.voters and learners:
            return Action("promote", learners[0], config.with_member(
                learners[0], s.peers[learners[0]].peer_addr, voter=True))  # fmt: skip
        safe, _ = removal_is_safe(config, s.peers, node_id)
        if safe:
            return Action("remove", node_id, config.without(node_id))
    for node_id, peer in sorted(s.peers.items()):
        wants_in = contract.ROLE_DATA in peer.roles or contract.ROLE_OBSERVER in peer.roles
        if node_id not in config.members and wants_in and _usable(s, node_id) and peer.compatible:
            return Action(
                "add_learner", node_id, config.with_member(node_id, peer.peer_addr, False)
            )
    if len(config.voters) < target_voters(s) and learners:
        node_id = learners[0]
        return Action(
            "promote", node_id, config.with_member(node_id, s.peers[node_id].peer_addr, True)
        )
    return None
