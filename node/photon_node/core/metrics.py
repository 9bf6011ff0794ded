"""The node's Prometheus metrics, on one explicit registry (testable, no global state).

The catalogue here is the one documented in README.md; keep them in step.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from photon_common import contract

disable_created_metrics()  # `_created` series double the exposition for no operational value

_LATENCY_BUCKETS = (
    0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class NodeMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.build_info = Gauge(
            "photon_build_info",
            "PhotonDB build: always 1, labelled with the software and protocol version.",
            ["version", "protocol"],
            registry=r,
        )
        self.build_info.labels(contract.VERSION, str(contract.PROTOCOL_VERSION)).set(1)
        self.kv_requests = Counter(
            "photon_kv_requests",
            "Key-value requests served, by operation and HTTP status code.",
            ["op", "code"],
            registry=r,
        )
        self.kv_duration = Histogram(
            "photon_kv_request_duration_seconds",
            "Time to serve a key-value request, by operation.",
            ["op"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.storage_size = Gauge(
            "photon_storage_size_bytes",
            "Bytes the node's data directory occupies on disk (SST files, WAL, manifest).",
            registry=r,
        )
        self.draining = Gauge(
            "photon_node_draining", "1 while the node is draining or drained, else 0.", registry=r
        )
        self.ready = Gauge("photon_node_ready", "1 while the node reports ready.", registry=r)
        self.revision = Gauge(
            "photon_storage_revision", "Latest revision applied to the store.", registry=r
        )
        self.commit_batch = Histogram(
            "photon_commit_batch_size",
            "Log entries made durable together by one fsync (group commit).",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.commit_duration = Histogram(
            "photon_commit_duration_seconds",
            "Time to fsync one Ready's log entries and apply those that waited for it.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.storage_errors = Counter(
            "photon_storage_errors",
            "Storage failures, by kind (write, read, corruption).",
            ["kind"],
            registry=r,
        )
        self._raft(r)
        # Known label values start at 0, so "no errors" reads as 0 rather than absent.
        for counter, values in (
            (self.storage_errors, ("write", "read", "corruption")),
            (self.raft_proposals, ("committed", "overwritten", "dropped")),
            (self.raft_rejected, ("bad_mac", "unsigned", "protocol", "identity", "malformed")),
            (self.gossip_rejected, ("unsigned", "bad_mac", "replayed", "stale", "malformed")),
        ):
            for value in values:
                counter.labels(value)
        self._before_scrape: list[Callable[[], None]] = []

    def _raft(self, r: CollectorRegistry) -> None:
        self.raft_term = Gauge("photon_raft_term", "Current Raft term.", registry=r)
        self.raft_is_leader = Gauge(
            "photon_raft_is_leader", "1 while this node is the Raft leader.", registry=r
        )
        self.raft_commit = Gauge(
            "photon_raft_commit_index", "Highest log index known committed.", registry=r
        )
        self.raft_applied = Gauge(
            "photon_raft_applied_index", "Highest log index applied to the store.", registry=r
        )
        self.raft_follower_lag = Gauge(
            "photon_raft_follower_lag_entries",
            "On the leader: entries each follower is behind the leader's last index.",
            ["peer"],
            registry=r,
        )
        self.raft_leader_changes = Counter(
            "photon_raft_leader_changes",
            "Times this node became or stopped being the leader.",
            registry=r,
        )
        self.raft_proposals = Counter(
            "photon_raft_proposals",
            "Proposals by result: committed, overwritten (not applied), dropped (unknown).",
            ["result"],
            registry=r,
        )
        self.raft_rejected = Counter(
            "photon_raft_frames_rejected",
            "Peer (Raft) frames or connections rejected, by reason.",
            ["reason"],
            registry=r,
        )
        self.raft_replication_seconds = Histogram(
            "photon_raft_replication_seconds",
            "Time from proposing a write on the leader to its commit and apply.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.raft_persist_seconds = Histogram(
            "photon_raft_persist_seconds",
            "Time to fsync a batch of Raft log entries and hard state.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.raft_apply_seconds = Histogram(
            "photon_raft_apply_seconds",
            "Time to apply a batch of committed entries to the store.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.gossip_members = Gauge(
            "photon_gossip_members",
            "Members this node's gossip view holds, by state.",
            ["state"],
            registry=r,
        )
        self.gossip_rejected = Counter(
            "photon_gossip_frames_rejected",
            "Gossip datagrams rejected, by reason (unsigned, bad_mac, replayed, stale, malformed).",
            ["reason"],
            registry=r,
        )

    def on_scrape(self, refresh: Callable[[], None]) -> None:
        """Register a callback that refreshes gauges just before each scrape (runs off-loop)."""
        self._before_scrape.append(refresh)

    def exposition(self) -> bytes:
        """Prometheus text format. Blocking (reads the disk): call it in a worker thread."""
        for refresh in self._before_scrape:
            refresh()
        return generate_latest(self.registry)
