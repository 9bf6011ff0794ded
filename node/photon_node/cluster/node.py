"""The node: lifecycle (starting -> ready -> stopping), health checks, drain flag, and the
key-value operations the API serves, routed through the Log.

Blocking storage calls run in worker threads; nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from photon_common import contract
from photon_node.cluster.log import LocalLog
from photon_node.core.commands import Command, Expect, Kind, Outcome, Result
from photon_node.core.errors import (
    DataDirError,
    NotFound,
    PreconditionFailed,
    StorageCorrupted,
    Unavailable,
)
from photon_node.core.metrics import NodeMetrics
from photon_node.core.settings import Settings
from photon_node.storage import datadir
from photon_node.storage.engine import Engine, Item

logger = logging.getLogger(__name__)

META_DRAINING = b"draining"
HEARTBEAT_SECONDS = 1.0
HEARTBEAT_STALE_SECONDS = 10.0
SCAN_MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str = ""


class Node:
    def __init__(self, settings: Settings, metrics: NodeMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.started_at = time.time()
        self.engine: Engine | None = None
        self.log: LocalLog | None = None
        self.startup_error: str | None = None
        self.draining = False
        self.stopping = False
        self.corruption: str | None = None
        self._beat = time.monotonic()
        self._heartbeat: asyncio.Task | None = None
        metrics.on_scrape(self._refresh_gauges)

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def state(self) -> str:
        if self.stopping:
            return contract.STATE_STOPPING
        if self.log is None:
            return contract.STATE_STARTING
        if self.draining:
            return contract.STATE_DRAINED
        return contract.STATE_READY

    async def start(self) -> None:
        """Open the data directory and RocksDB (WAL recovery) off the loop; raise DataDirError."""
        self._heartbeat = asyncio.create_task(self._beat_loop(), name="heartbeat")
        try:
            self.engine = await asyncio.to_thread(self._open)
        except DataDirError as error:
            self.startup_error = str(error)
            raise
        self.draining = self.engine.get_meta(META_DRAINING) is not None
        self.log = LocalLog(self.engine, self.metrics, self.settings.group_commit_max_ops)
        self.metrics.revision.set(self.engine.revision)
        self.metrics.draining.set(int(self.draining))
        logger.info("node %s is %s at revision %d", self.settings.node_id, self.state,
                    self.engine.revision)  # fmt: skip

    def _open(self) -> Engine:
        directory = datadir.prepare(self.settings.data_dir, self.settings.node_id)
        return Engine.open(directory)

    async def begin_shutdown(self) -> None:
        if not self.stopping:
            logger.info("node %s is stopping", self.settings.node_id)
        self.stopping = True

    async def close(self) -> None:
        """Commit what is queued, flush and close RocksDB."""
        self.stopping = True
        if self.log is not None:
            await self.log.close()
        if self.engine is not None:
            await asyncio.to_thread(self.engine.close)
            self.engine = None
        if self._heartbeat is not None:
            self._heartbeat.cancel()

    async def _beat_loop(self) -> None:
        while True:
            self._beat = time.monotonic()
            await asyncio.sleep(HEARTBEAT_SECONDS)

    # -- health --------------------------------------------------------------------------------
    def live_checks(self) -> list[Check]:
        age = time.monotonic() - self._beat
        checks = [Check("event_loop", age < HEARTBEAT_STALE_SECONDS, f"heartbeat {age:.1f}s old")]
        if self.log is not None:
            checks.append(Check("commit_loop", self.log.alive, "group commit loop has stopped"))
        return checks

    def startup_checks(self) -> list[Check]:
        opened = self.log is not None
        reason = self.startup_error or "opening RocksDB and replaying its WAL"
        return [Check("storage_open", opened, reason), Check("recovery", opened, reason)]

    def ready_checks(self) -> list[Check]:
        storage_reason = ""
        if self.log is not None and self.log.failure is not None:
            storage_reason = f"writes failing: {self.log.failure}"
        elif self.corruption:
            storage_reason = f"corruption detected: {self.corruption}"
        return [
            *self.startup_checks(),
            Check("storage", not storage_reason, storage_reason),
            Check("not_draining", not self.draining, "node is drained"),
            Check("not_stopping", not self.stopping, "node is shutting down"),
        ]

    # -- key-value -----------------------------------------------------------------------------
    def _require_engine(self) -> Engine:
        if self.engine is None or self.log is None:
            raise Unavailable("the node is starting: storage is not open yet")
        return self.engine

    async def write(self, command: Command) -> Result:
        self._require_engine()
        assert self.log is not None
        result = await self.log.propose(command)
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

    async def get(self, key: bytes) -> Item:
        engine = self._require_engine()
        assert self.log is not None
        await self.log.read_barrier()
        item = await asyncio.to_thread(self._guard, engine.get, key)
        if item is None:
            raise NotFound("key not found")
        return item

    async def scan(
        self, prefix: bytes, start: bytes, limit: int
    ) -> tuple[list[Item], bytes | None, int]:
        engine = self._require_engine()
        assert self.log is not None
        await self.log.read_barrier()
        revision = engine.revision
        items, next_key = await asyncio.to_thread(
            self._guard, engine.scan, prefix, start, limit, SCAN_MAX_BYTES
        )
        return items, next_key, revision

    def _guard(self, read, *args):  # runs in a worker thread
        try:
            return read(*args)
        except StorageCorrupted as error:
            self.corruption = error.message
            self.metrics.storage_errors.labels("corruption").inc()
            raise

    # -- drain ---------------------------------------------------------------------------------
    async def set_draining(self, draining: bool) -> None:
        engine = self._require_engine()
        if draining != self.draining:
            await asyncio.to_thread(engine.set_meta, META_DRAINING, b"1" if draining else None)
            self.draining = draining
            self.metrics.draining.set(int(draining))
            logger.info("node %s %s", self.settings.node_id,
                        "is drained" if draining else "drain cancelled")  # fmt: skip

    def drain_status(self) -> dict:
        # A single node has no leadership or voting membership to hand over: marking it
        # draining completes the drain. The data plane extends this with Raft steps.
        return {
            "node": self.settings.node_id,
            "draining": self.draining,
            "state": "drained" if self.draining else "none",
            "steps": [],
        }

    # -- status --------------------------------------------------------------------------------
    def status(self) -> dict:
        return {
            "id": self.settings.node_id,
            "version": contract.VERSION,
            "protocol_version": contract.PROTOCOL_VERSION,
            "role": self.settings.role,
            "state": self.state,
            "draining": self.draining,
            "ready": all(check.ok for check in self.ready_checks()),
            "revision": self.engine.revision if self.engine else None,
            "uptime_seconds": round(time.time() - self.started_at, 3),
            "data_format": contract.DATA_FORMAT_VERSION,
            "cluster": {"members": 1, "leader": self.settings.node_id},
        }

    def _refresh_gauges(self) -> None:  # runs in a worker thread at scrape time
        engine = self.engine
        if engine is not None:
            try:
                self.metrics.storage_size.set(engine.size_bytes())
            except OSError:
                self.metrics.storage_errors.labels("read").inc()
        self.metrics.ready.set(int(all(check.ok for check in self.ready_checks())))
