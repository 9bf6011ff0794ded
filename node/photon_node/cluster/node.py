"""The node: lifecycle (starting -> ready -> stopping), health, and the key-value operations the
API serves, through Raft. Wires storage, the Raft driver, the peer transport, gossip, the
membership manager and drain together; each of those lives in its own module.

Blocking storage calls run in worker threads; nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from photon_common import contract
from photon_node.cluster import membership
from photon_node.cluster.gossip import GossipService, MemberMeta, MemberState
from photon_node.cluster.raft.core import RaftOptions, Role
from photon_node.cluster.raft.driver import RaftDriver
from photon_node.cluster.raft.errors import NotLeaderError
from photon_node.cluster.transport import Identity, PeerTransport, compatible
from photon_node.core.commands import Command, Expect, Kind, Outcome, Result
from photon_node.core.errors import (
    Conflict,
    DataDirError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    StorageCorrupted,
    Unavailable,
)
from photon_node.core.metrics import NodeMetrics
from photon_node.core.rafttypes import Config
from photon_node.core.settings import Settings
from photon_node.storage import datadir
from photon_node.storage.engine import Engine, Item
from photon_node.storage.raftstore import RaftStore

logger = logging.getLogger(__name__)

META_DRAINING = b"draining"
HEARTBEAT_SECONDS = 1.0
HEARTBEAT_STALE_SECONDS = 10.0
SCAN_MAX_BYTES = 4 * 1024 * 1024
MEMBERSHIP_INTERVAL = 0.5
META_REFRESH_SECONDS = 5.0
LEASE_FRACTION = 0.7  # of the election timeout


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str = ""


class Node:
    def __init__(self, settings: Settings, metrics: NodeMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.id = settings.node_id
        self.started_at = time.time()
        self.engine: Engine | None = None
        self.driver: RaftDriver | None = None
        self.transport: PeerTransport | None = None
        self.gossip: GossipService | None = None
        self.started = False
        self.startup_error: str | None = None
        self.draining = False
        self.stopping = False
        self.corruption: str | None = None
        self.incompatible: dict[str, str] = {}  # peer -> why it cannot be in our cluster
        self._beat = time.monotonic()
        self._tasks: list[asyncio.Task] = []
        self._membership_wake = asyncio.Event()
        self._published: tuple = ()
        metrics.on_scrape(self._refresh_gauges)

    @property
    def stores_data(self) -> bool:
        return self.settings.role != contract.ROLE_COORDINATOR

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def state(self) -> str:
        if self.stopping:
            return contract.STATE_STOPPING
        if not self.started:
            return contract.STATE_STARTING
        if self.draining:
            return contract.STATE_DRAINED if self.drain_status()["drained"] else "draining"
        return contract.STATE_READY

    async def start(self) -> None:
        """Open storage (WAL recovery) off the loop, start Raft, transport and gossip."""
        self._tasks.append(asyncio.create_task(self._beat_loop(), name="heartbeat"))
        secret = self.settings.secret()
        if self.stores_data:
            try:
                self.engine = await asyncio.to_thread(self._open)
            except DataDirError as error:
                self.startup_error = str(error)
                raise
            self.draining = self.engine.get_meta(META_DRAINING) is not None
        if secret:
            await self._start_gossip(secret)
        if self.engine is not None:
            await self._start_raft(secret)
        self._tasks.append(asyncio.create_task(self._membership_loop(), name="membership"))
        self._tasks.append(asyncio.create_task(self._meta_loop(), name="gossip-meta"))
        self.metrics.draining.set(int(self.draining))
        self.started = True
        logger.info("node %s (%s) is %s", self.id, self.settings.role, self.state)

    def _open(self) -> Engine:
        return Engine.open(datadir.prepare(self.settings.data_dir, self.id))

    async def _start_raft(self, secret: bytes | None) -> None:
        assert self.engine is not None
        s = self.settings
        # The lease ends well before the followers' stickiness does (see raft/lease.py).
        lease = s.election_ticks * s.raft_tick_ms / 1000 * LEASE_FRACTION
        lease = lease if s.read_mode == "lease" else 0.0
        options = RaftOptions(
            election_ticks=s.election_ticks, heartbeat_ticks=1, lease_seconds=lease,
            election_timeout=s.election_ticks * s.raft_tick_ms / 1000,
        )  # fmt: skip
        self.driver = RaftDriver(
            self.id, self.engine, RaftStore(self.engine), self.metrics, options,
            tick_seconds=s.raft_tick_ms / 1000, compact_threshold=s.snapshot_entries,
            compact_keep=max(10, s.snapshot_entries // 5), max_batch=s.group_commit_max_ops,
            rounds_in_flight=s.raft_rounds_in_flight, round_linger=s.raft_round_linger_ms / 1000,
        )  # fmt: skip
        self.transport = PeerTransport(
            Identity(self.id, s.protocol_version, s.min_protocol_version),
            secret,
            self._resolve_peer,
            self.driver.on_frame,
            on_reject=lambda reason: self.metrics.raft_rejected.labels(reason).inc(),
            on_unreachable=self._unreachable,
        )
        self.driver.transport = self.transport
        if secret:
            await self.transport.start(s.peer_listen.host, s.peer_listen.port)
        bootstrap = None
        withhold = False
        if s.initial_cluster:
            # Every bootstrap member starts from the same configuration at index 0, even one
            # that starts late or lost its disk: that configuration is in no log entry, so
            # the leader's appends (from index 1) would never teach it to such a member.
            bootstrap = Config.of(dict(s.initial_cluster))
            if self.engine.applied == 0 and await self._existing_cluster():
                # Its data is gone (or it never had any) and its cluster lives on: it must
                # catch up from the leader before it votes or campaigns.
                logger.warning(
                    "%s: empty data directory in a running cluster; rejoining "
                    "as a member that withholds its vote until caught up",
                    self.id,
                )
                withhold = True
        elif s.join:
            # An empty joiner may be a voter whose disk was lost: it may have voted in the
            # current term. A new learner loses nothing by waiting to catch up first.
            withhold = self.engine.applied == 0
            if withhold:
                logger.info("%s: joining with an empty data directory; withholding its vote "
                            "until caught up", self.id)  # fmt: skip
        elif s.role == contract.ROLE_DATA:
            bootstrap = Config.of({self.id: s.peer_addr})  # a single-node cluster of its own
        await self.driver.start(bootstrap, withhold_votes=withhold)

    async def _existing_cluster(self, wait: float = 3.0) -> bool:
        """Does gossip show a peer that already holds data? Ends early once every peer of
        the initial cluster has been seen empty (a genuinely new cluster)."""
        if self.gossip is None:
            return False
        peers = {node for node, _ in self.settings.initial_cluster} - {self.id}
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            members = self.gossip.members()
            for node_id, member in members.items():
                applied = dict(member.meta.metrics).get("applied", 0.0)
                if node_id != self.id and applied > 0:
                    return True
            if peers <= members.keys() or asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.1)

    async def _start_gossip(self, secret: bytes) -> None:
        s = self.settings
        seeds = list(s.join) + [addr for node, addr in s.initial_cluster if node != self.id]
        self.gossip = GossipService(
            self._local_meta(),
            secret=secret,
            bind=(s.peer_listen.host, s.peer_listen.port),
            seeds=seeds,
            on_event=lambda *event: self._membership_wake.set(),
            on_reject=lambda reason: self.metrics.gossip_rejected.labels(reason).inc(),
        )
        await self.gossip.start()

    def _local_meta(self) -> MemberMeta:
        s = self.settings
        metrics: tuple[tuple[str, float], ...] = ()
        if self.engine is not None:
            metrics = (("applied", float(self.engine.applied)),)
        if self.engine is not None and self.driver is not None and self.driver.core is not None:
            core = self.driver.core
            metrics = (
                ("revision", float(self.engine.revision)),
                ("applied", float(self.engine.applied)),
                ("term", float(core.term)),
                ("leader", float(core.role is Role.LEADER)),
            )
        return MemberMeta(
            node_id=self.id, peer_addr=s.peer_addr, client_addr=s.client_addr,
            roles=(s.role,), version=contract.VERSION, protocol=s.protocol_version,
            min_protocol=s.min_protocol_version,
            features=tuple(f for f, v in contract.FEATURE_PROTOCOL.items()
                           if v <= s.protocol_version),
            draining=self.draining, storage_ok=self._storage_ok(), metrics=metrics,
        )  # fmt: skip

    def _publish(self) -> None:
        if self.gossip is not None:
            self.gossip.update_local(self._local_meta())
            self._published = self._headline()

    def _headline(self) -> tuple:
        """What peers must learn at once: having data at all, the term, leadership."""
        if self.engine is None or self.driver is None or self.driver.core is None:
            return ()
        core = self.driver.core
        return (self.engine.applied > 0, core.term, core.role is Role.LEADER)

    def _publish_if_changed(self) -> None:
        if self._headline() != self._published:
            self._publish()

    def _resolve_peer(self, node_id: str) -> str | None:
        if self.driver is not None and self.driver.core is not None:
            addr = self.driver.core.log.config.addr(node_id)
            if addr:
                return addr
        member = self.gossip.members().get(node_id) if self.gossip else None
        return member.meta.peer_addr if member else None

    def _unreachable(self, peer: str) -> None:
        if self.driver is not None and self.driver.core is not None:
            self.driver.core.report_unreachable(peer)

    async def begin_shutdown(self) -> None:
        if not self.stopping:
            logger.info("node %s is stopping", self.id)
        self.stopping = True

    async def close(self) -> None:
        """Stop gossip (announcing we leave), Raft and the transport; close RocksDB."""
        self.stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.gossip is not None:
            await self.gossip.stop(leave=True)
        if self.driver is not None:
            await self.driver.close()
        if self.transport is not None:
            await self.transport.stop()
        if self.engine is not None:
            await asyncio.to_thread(self.engine.close)
            self.engine = None

    async def _beat_loop(self) -> None:
        while True:
            self._beat = time.monotonic()
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async def _meta_loop(self) -> None:
        while True:
            await asyncio.sleep(META_REFRESH_SECONDS)
            self._publish()

    # -- membership (acts only while leader) ---------------------------------------------------
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

    # -- health --------------------------------------------------------------------------------
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

    # -- key-value -----------------------------------------------------------------------------
    def _require_started(self) -> None:
        if not self.started:
            raise Unavailable("the node is starting: storage is not open yet")
        # While stopping, requests already in flight are still served (readiness is false).

    def _require_store(self) -> tuple[Engine, RaftDriver]:
        self._require_started()
        if self.engine is None or self.driver is None:
            raise NotLeaderError(self.leader_id())  # a coordinator routes everything
        return self.engine, self.driver

    async def write(self, command: Command) -> Result:
        _, driver = self._require_store()
        if self.settings.role == contract.ROLE_OBSERVER:
            raise Forbidden("this node is an observer: it serves reads only")
        if command.expect is Expect.EXISTS:
            needed = contract.FEATURE_PROTOCOL["if_match_any"]
            if self.effective_protocol() < needed:
                raise Conflict(
                    f"If-Match: * needs every member to speak protocol {needed}; "
                    f"the cluster runs protocol {self.effective_protocol()}"
                )
        result = await driver.propose(command)
        if result.outcome is Outcome.PRECONDITION_FAILED:
            raise PreconditionFailed(
                "the key's current revision does not match the precondition",
                current_revision=result.revision,
            )
        if result.outcome is Outcome.NOT_FOUND:
            raise NotFound("key not found")
        return result

    async def put(self, key: bytes, value: bytes, expect: Expect, revision: int) -> Result:
        return await self.write(Command(Kind.PUT, key, value, expect, revision))

    async def delete(self, key: bytes, expect: Expect, revision: int) -> Result:
        return await self.write(Command(Kind.DELETE, key, b"", expect, revision))

    async def _read_point(self, stale: bool) -> Engine:
        engine, driver = self._require_store()
        if not stale:
            await driver.read_barrier()
        return engine

    async def get(self, key: bytes, stale: bool = False) -> Item:
        engine = await self._read_point(stale)
        # A point read on the loop: rocksdict holds the GIL for the call, so a worker thread
        # would not let the loop run meanwhile and would only add two thread hops.
        item = self._guard(engine.get, key)
        if item is None:
            raise NotFound("key not found")
        return item

    async def scan(
        self, prefix: bytes, start: bytes, limit: int, stale: bool = False
    ) -> tuple[list[Item], bytes | None, int]:
        engine = await self._read_point(stale)
        revision = engine.revision
        items, next_key = await asyncio.to_thread(
            self._guard, engine.scan, prefix, start, limit, SCAN_MAX_BYTES
        )
        return items, next_key, revision

    def _guard(self, read, *args):
        try:
            return read(*args)
        except StorageCorrupted as error:
            self.corruption = error.message
            self.metrics.storage_errors.labels("corruption").inc()
            raise

    def route_to(self, leader: str) -> str | None:
        """Client address to forward a request this node cannot serve to (None: no one)."""
        if self.gossip is None:
            return None
        members = self.gossip.members()
        if leader and leader != self.id and leader in members:
            return members[leader].meta.client_addr
        for node_id, member in sorted(members.items()):
            data = contract.ROLE_DATA in member.meta.roles
            if node_id != self.id and data and member.state is MemberState.ALIVE:
                return member.meta.client_addr
        return None

    # -- drain and leadership ------------------------------------------------------------------
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

    # -- status --------------------------------------------------------------------------------
    def status(self) -> dict:
        status = {
            "id": self.id,
            "version": contract.VERSION,
            "protocol_version": self.settings.protocol_version,
            "min_protocol_version": self.settings.min_protocol_version,
            "effective_protocol_version": self.effective_protocol(),
            "role": self.settings.role,
            "state": self.state,
            "draining": self.draining,
            "ready": all(check.ok for check in self.ready_checks()),
            "revision": self.engine.revision if self.engine else None,
            "uptime_seconds": round(time.time() - self.started_at, 3),
            "data_format": contract.DATA_FORMAT_VERSION,
            "client_addr": self.settings.client_addr,
            "peer_addr": self.settings.peer_addr,
            "leader": self.leader_id(),
            "raft": self.driver.status() if self.driver and self.driver.core else None,
            "problems": sorted(self.incompatible.values()),
            "members": {},
        }
        if self.gossip is not None:
            status["members"] = {
                node_id: {
                    "state": m.state.value,
                    "roles": list(m.meta.roles),
                    "version": m.meta.version,
                    "protocol": m.meta.protocol,
                    "draining": m.meta.draining,
                    "storage_ok": m.meta.storage_ok,
                    "client_addr": m.meta.client_addr,
                    "peer_addr": m.meta.peer_addr,
                }
                for node_id, m in sorted(self.gossip.members().items())
            }
        return status

    def _refresh_gauges(self) -> None:  # runs in a worker thread at scrape time
        engine = self.engine
        if engine is not None:
            try:
                self.metrics.storage_size.set(engine.size_bytes())
            except OSError:
                self.metrics.storage_errors.labels("read").inc()
            self.metrics.revision.set(engine.revision)
        self.metrics.ready.set(int(all(check.ok for check in self.ready_checks())))
