"""Randomized fault schedules over the Raft simulation, ending in a quiet period."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from photon_node.cluster.raft.core import NotLeader, ProposalRefused, Role
from photon_node.core.commands import Command, Expect, Kind
from tests.sim.raft_sim import OpRecord, Simulation

KEYS = ("a", "b", "c")


@dataclass(frozen=True)
class Faults:
    crash: float = 0.004
    restart: float = 0.05
    partition: float = 0.004
    heal: float = 0.03
    membership: float = 0.01
    transfer: float = 0.005
    pause: float = 0.003  # a node (often the leader) stops for a while, then resumes
    wipe: float = 0.2  # a restart comes back with an empty disk (one lost disk at a time)
    client: float = 0.6


def leader(sim: Simulation):
    leaders = [n for n in sim.nodes.values() if n.running and n.core.role is Role.LEADER]
    return max(leaders, key=lambda n: n.core.term) if leaders else None


def random_op(sim: Simulation, client: int) -> tuple[OpRecord, Command | None]:
    rng = sim.rng
    key = rng.choice(KEYS)
    roll = rng.random()
    if roll < 0.35:
        op = OpRecord(client, "get", key, None, None, False, sim.now)
        return op, None
    if roll < 0.55:
        op = OpRecord(client, "delete", key, None, None, False, sim.now)
        return op, Command(Kind.DELETE, key.encode())
    value = f"v{sim.next_id()}".encode()
    if roll < 0.7:
        revisions = [o.revision for o in sim.ops if o.key == key and o.revision] or [1]
        target = rng.choice(revisions[-3:])
        op = OpRecord(client, "put", key, value, target, False, sim.now)
        return op, Command(Kind.PUT, key.encode(), value, Expect.REVISION, target)
    if roll < 0.78:
        op = OpRecord(client, "put", key, value, None, True, sim.now)
        return op, Command(Kind.PUT, key.encode(), value, Expect.ABSENT)
    op = OpRecord(client, "put", key, value, None, False, sim.now)
    return op, Command(Kind.PUT, key.encode(), value)


def membership_change(sim: Simulation) -> None:
    node = leader(sim)
    if node is None:
        return
    core = node.core
    config = core.log.config
    rng = sim.rng
    outside = sorted(set(sim.nodes) - config.members)
    learners = sorted(config.learners)
    choice = rng.random()
    try:
        if choice < 0.35 and outside:
            new = rng.choice(outside)
            core.propose_config(config.with_member(new, f"{new}:7701", voter=False))
        elif choice < 0.7 and learners:
            candidate = rng.choice(learners)
            if core.progress[candidate].match >= core.log.last_index - 5:
                core.propose_config(config.with_member(candidate, f"{candidate}:7701", voter=True))
        elif len(config.voters) > 2 and not any(n.withholding for n in sim.nodes.values()):
            # (an operator removes no voter while a member that lost its disk catches up)
            victim = rng.choice(sorted(config.members))
            core.propose_config(config.without(victim))
    except (NotLeader, ProposalRefused):
        return
    node.pump()


def step(sim: Simulation, now: float) -> None:
    """One unit of simulated time: every running node ticks, then due messages arrive."""
    sim.now = now
    for node in sim.nodes.values():
        if node.running:
            node.core.now = now
            node.core.tick()
            node.pump()
    sim.deliver_due()


def run(
    seed: int,
    ticks: int = 400,
    quiet: int = 200,
    faults: Faults = Faults(),
    lease: float | None = None,
) -> Simulation:
    sim = Simulation(seed, lease)
    rng = sim.rng
    clients = 4
    busy: dict[int, OpRecord] = {}
    for tick in range(ticks + quiet):
        step(sim, float(tick))
        stormy = tick < ticks
        if stormy:
            _inject_faults(sim, faults)
        else:  # the quiet period: a healed, lossless network (delays and reordering remain)
            sim.partition = {}
            sim.loss = sim.duplicate = 0.0
        if not stormy:
            for node in sim.nodes.values():
                if not node.alive:
                    node.restart()
        for client in range(clients):
            current = busy.get(client)
            if current is not None and current.complete is None and tick - current.invoke < 40:
                continue  # one outstanding request per client; give up waiting after 40 ticks
            if rng.random() < faults.client and tick < ticks + quiet - 60:
                alive = [n for n in sim.nodes.values() if n.running]
                if not alive:
                    continue
                target = leader(sim) if rng.random() < 0.8 else rng.choice(alive)
                target = target if target is not None and target.running else rng.choice(alive)
                op, command = random_op(sim, client)
                sim.ops.append(op)
                busy[client] = op
                target.submit(op, command)
    return sim


def _may_lose_disk(sim: Simulation, node, others) -> bool:
    """One lost disk at a time, while a leader with a committed configuration leads, and only
    where the other voters can still elect a leader: the member withholds its vote until it
    has caught up. (Losing the disk that acknowledged an uncommitted membership change can
    leave the rest without an electable voter: that needs an operator, as in etcd.)"""
    current = leader(sim)
    if current is None or any(n.withholding for n in others):
        return False
    log = current.core.log
    if log.config_index > log.committed:
        return False
    voters = log.config.voters
    return len(voters - {node.id}) >= len(voters) // 2 + 1


def _inject_faults(sim: Simulation, faults: Faults) -> None:
    rng = sim.rng
    nodes = list(sim.nodes.values())
    if rng.random() < faults.crash:
        alive = [n for n in nodes if n.alive]
        if len(alive) > 1:
            rng.choice(alive).crash()
    catching_up = [n for n in nodes if n.alive and n.core.vote_floor]
    if catching_up and rng.random() < faults.crash * 10:
        rng.choice(catching_up).crash()  # half way through catching up after a lost disk
    if rng.random() < faults.restart:
        dead = [n for n in nodes if not n.alive]
        if dead:
            node = rng.choice(dead)
            others = [n for n in nodes if n is not node]
            if rng.random() < faults.wipe and _may_lose_disk(sim, node, others):
                node.wipe()
            node.restart()
    if rng.random() < faults.partition:
        sim.partition = {n.id: rng.randrange(2) for n in nodes}
    if sim.partition and rng.random() < faults.heal:
        sim.partition = {}
    if rng.random() < faults.membership:
        membership_change(sim)
    if rng.random() < faults.pause:
        running = [n for n in nodes if n.running]
        if running:
            node = leader(sim) if rng.random() < 0.7 else None
            node = node if node is not None and node.running else rng.choice(running)
            node.paused_until = sim.now + 5 + rng.randrange(40)
            if rng.random() < 0.5:  # and cut off, as a stopped machine looks to the others
                sim.partition = {n.id: int(n is node) for n in nodes}
    if rng.random() < faults.transfer:
        node = leader(sim)
        if node is not None:
            voters = sorted(node.core.log.config.voters - {node.id})
            if voters:
                with contextlib.suppress(NotLeader, ProposalRefused):
                    node.core.transfer_leadership(rng.choice(voters))
                node.pump()
