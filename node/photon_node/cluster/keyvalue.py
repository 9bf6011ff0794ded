"""The key-value operations the API serves: writes proposed through Raft, reads at a
linearizable read point (or stale, locally), and where to forward what this node cannot serve.
"""

from __future__ import annotations

import asyncio

from photon_common import contract
from photon_node.cluster.gossip import MemberState
from photon_node.cluster.raft.driver import RaftDriver
from photon_node.cluster.raft.errors import NotLeaderError
from photon_node.core.commands import Command, Expect, Kind, Outcome, Result
from photon_node.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    StorageCorrupted,
    Unavailable,
)
from photon_node.storage.engine import Engine, Item

SCAN_MAX_BYTES = 4 * 1024 * 1024


class KeyValue:
    """Mixed into Node: uses its engine, Raft driver, gossip view and metrics."""

    def _require_started(self) -> None:
        if not self.started:
            raise Unavailable("the node is starting: storage is not open yet")

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
