"""What the rest of the node asks of Raft: writes, membership changes, linearizable read
points and leadership transfers. Each call registers its caller (callers.py) or answers at once
(a read under the lease), and wakes the loop; the loop in driver.py does the rest."""

from __future__ import annotations

import asyncio
import time

from photon_node.cluster.raft.core import NotLeader, ProposalRefused, RaftCore, Role
from photon_node.cluster.raft.errors import NotLeaderError, OutcomeUnknown
from photon_node.core.commands import Command, Result, encode, wrap
from photon_node.core.errors import Unavailable
from photon_node.core.rafttypes import Config


async def _within(future: asyncio.Future, timeout: float):
    """Await a future this caller owns, failing it with TimeoutError after `timeout` seconds.
    (A timer on the future itself: asyncio.wait_for(shield(...)) costs two extra futures and
    a task per request on the hot path.)"""
    handle = asyncio.get_running_loop().call_later(timeout, _expire, future)
    try:
        return await future
    finally:
        handle.cancel()


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class Requests:
    """Mixed into RaftDriver: uses its core, admission, callers and metrics."""

    async def propose(self, command: Command) -> Result:
        """Commit a command through the leader (from any member) and return its result,
        computed when this node applies it."""
        if self.failure is not None or self._stopping:
            raise Unavailable("raft has stopped")
        core = self._core()
        if core.role is not Role.LEADER and not core.leader:
            raise NotLeaderError("")
        self._request_seq += 1
        request_id = self._request_seq
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        future.proposed_at = time.perf_counter()  # type: ignore[attr-defined]
        self.callers.requests[request_id] = future
        self._admission.queue(core, wrap(self.id, request_id, encode(command)), request_id, future)
        try:
            return await _within(future, self.request_timeout)
        except TimeoutError as error:
            self.metrics.raft_proposals.labels("dropped").inc()
            raise OutcomeUnknown(
                "the write was not committed in time; it may or may not apply"
            ) from error
        finally:
            self.callers.requests.pop(request_id, None)

    async def change_config(self, config: Config) -> None:
        core = self._core()
        try:
            core.propose_config(config)  # validated and appended now; committed by the loop
        except NotLeader as error:
            raise NotLeaderError(error.leader) from error
        except ProposalRefused as error:
            raise Unavailable(str(error)) from error
        index = core.log.last_index
        future = asyncio.get_running_loop().create_future()
        self.callers.changes[index] = (core.term, future)
        self._wake.set()
        await future

    async def read_barrier(self) -> None:
        """Return once the leader confirmed its leadership after this call and this node has
        applied everything committed before it (ReadIndex; followers ask the leader)."""
        core = self._core()
        if core.role is not Role.LEADER and not core.leader:
            raise NotLeaderError("")
        if self._sole_voter_ready(core) or self._leased_read_ready(core):
            return  # no other leader can exist now, and every acknowledged write is applied
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.callers.read_waiters.append(future)
        self._wake.set()
        try:
            await _within(future, self.request_timeout)
        except TimeoutError as error:
            raise Unavailable("leadership could not be confirmed in time; retry") from error

    def _leased_read_ready(self, core: RaftCore) -> bool:
        """The leader's lease holds (see lease.py): the read needs no round through the loop."""
        log = core.log
        return (
            core.role is Role.LEADER
            and not core.transferee
            and core.lease.valid(time.monotonic())
            and log.term(log.committed) == core.term
            and self.engine.applied >= log.committed
        )

    def _sole_voter_ready(self, core: RaftCore) -> bool:
        log = core.log
        return (
            core.role is Role.LEADER
            and log.config.voters == {self.id}
            and log.term(log.committed) == core.term
            and self.engine.applied >= log.committed
        )

    def transfer_leadership(self, target: str) -> None:
        core = self._core()
        try:
            core.transfer_leadership(target)
        except NotLeader as error:
            raise NotLeaderError(error.leader) from error
        except ProposalRefused as error:
            raise Unavailable(str(error)) from error
        self._wake.set()
