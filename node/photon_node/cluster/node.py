"""The node: lifecycle (starting -> ready -> stopping), health, and the key-value operations the
API serves, through Raft. Wires storage, the Raft driver, the peer transport, gossip, the
membership manager and drain together; each of those lives in its own module, and so do
the node's health checks (health.py), key-value operations (keyvalue.py), drain (drain.py),
membership loop (members.py) and status report (report.py), mixed into `Node`.

Blocking storage calls run in worker threads; nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time

from photon_common import contract
from photon_node.cluster.drain import META_DRAINING, Drain
from photon_node.cluster.gossip import GossipService, MemberMeta
from photon_node.cluster.health import Health
from photon_node.cluster.keyvalue import KeyValue
from photon_node.cluster.members import Members
from photon_node.cluster.raft.core import RaftOptions, Role
from photon_node.cluster.raft.driver import RaftDriver
from photon_node.cluster.report import Reporting
from photon_node.cluster.transport import Identity, PeerTransport
from photon_node.core.errors import DataDirError
from photon_node.core.metrics import NodeMetrics
from photon_node.core.rafttypes import Config
from photon_node.core.settings import Settings
from photon_node.storage import datadir
from photon_node.storage.engine import Engine
from photon_node.storage.raftstore import RaftStore

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0
META_REFRESH_SECONDS = 5.0
LEASE_FRACTION = 0.7  # of the election timeout


class Node(Health, KeyValue, Drain, Members, Reporting):
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
