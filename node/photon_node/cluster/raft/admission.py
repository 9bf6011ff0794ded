"""Admission: the proposals waiting on this node, and when they enter the Raft log.

A client's command is queued here; its caller (the driver) keeps the future it answers.
- On a follower, the commands queued in one turn of the event loop go to the leader as one
  PROPOSE at the end of that turn, outside the Ready cycle: the Raft loop may be waiting for
  the fsync of entries it just received, and a PROPOSE depends on nothing persisted here.
- On the leader, its own queued commands and the PROPOSE batches followers sent are appended
  together as one round when the round gate opens (rounds.py): once the last round committed
  and, if it is smaller than the last round, once its linger is over. The linger ends when
  enough proposals arrived or when a timer fires, never by polling.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections import deque
from collections.abc import Callable

from photon_node.cluster.raft.core import NotLeader, ProposalRefused, RaftCore, Role
from photon_node.cluster.raft.errors import NotLeaderError
from photon_node.cluster.raft.rounds import RoundGate
from photon_node.core.errors import Unavailable
from photon_node.core.rafttypes import Message

_U64 = struct.Struct(">Q")


class Admission:
    def __init__(
        self,
        gate: RoundGate,
        max_batch: int,
        send_now: Callable[[Message], None],
        wake: Callable[[], None],
    ) -> None:
        self.gate = gate
        self.max_batch = max_batch  # commands per PROPOSE, and per append on the leader
        self._send_now = send_now  # sends a message and writes it out at once
        self._wake = wake  # wakes the Raft loop
        self._queued: deque[tuple[bytes, int, asyncio.Future]] = deque()
        self._forward_soon = False  # a forward at the end of this turn is scheduled
        self._linger_end: asyncio.TimerHandle | None = None  # the wake-up ending a linger
        self._lingered = False  # the linger for the next round is over

    @property
    def waiting(self) -> int:
        """Proposals on this node not yet in its log (queued here or held for a round)."""
        return len(self._queued) + self.gate.held_entries

    def queue(self, core: RaftCore, data: bytes, request_id: int, future: asyncio.Future) -> None:
        self._queued.append((data, request_id, future))
        self._wake()
        if core.role is not Role.LEADER and not self._forward_soon:
            self._forward_soon = True  # once per turn: the turn's proposals go together
            asyncio.get_running_loop().call_soon(self._forward_queued, core)

    def hold(self, message: Message) -> bool:
        """Keep a follower's PROPOSE for the next round (False: no rounds; step it now)."""
        if not self.gate.enabled:
            return False
        self.gate.held.append(message)
        return True

    def admit(self, core: RaftCore) -> None:
        """Append what waits here as one round, unless this node leads and the gate is closed
        or the next round lingers; on a follower, forward it."""
        gate, log = self.gate, core.log
        leading = core.role is Role.LEADER
        now = time.monotonic()
        if gate.closed(leading, log.committed, now):
            return
        if leading and not self._lingered:
            wait = gate.lingers(self.waiting, now)
            if wait:
                if self._linger_end is None:
                    loop = asyncio.get_running_loop()
                    self._linger_end = loop.call_later(wait, self._linger_over)
                return
        if self._linger_end is not None:
            self._linger_end.cancel()
            self._linger_end = None
        self._lingered = False
        for message in gate.release():
            core.step(message)
        if self._queued:
            self._forward(core)
        if self._queued:
            self._wake()  # the rest go into the next Ready
        gate.started(leading, log.last_index, log.committed, now)

    def fail(self, error: Exception) -> None:
        """Fail every queued proposal's caller (the node is stopping or Raft failed)."""
        while self._queued:
            _, _, future = self._queued.popleft()
            if not future.done():
                future.set_exception(error)

    def _linger_over(self) -> None:
        self._linger_end, self._lingered = None, True
        self._wake()

    def _forward_queued(self, core: RaftCore) -> None:
        self._forward_soon = False
        if core.role is not Role.LEADER:
            self._forward(core)

    def _forward(self, core: RaftCore) -> None:
        """Up to max_batch queued proposals go to the leader as one message (appended at once
        when this node leads); the batch is named by its first request id, unique here."""
        commands, futures = [], []
        queued = self._queued
        while queued and len(commands) < self.max_batch:
            data, request_id, future = queued.popleft()
            if not future.done():
                if not futures:
                    batch_id = _U64.pack(request_id)
                commands.append(data)
                futures.append(future)
        if not commands:
            return
        try:
            if core.role is Role.LEADER:
                core.forward(commands, batch_id)
            else:
                self._send_now(core.proposal_for_leader(commands, batch_id))
        except NotLeader as error:
            failure: Exception = NotLeaderError(error.leader)
        except ProposalRefused as error:
            failure = Unavailable(str(error))
        else:
            return
        for future in futures:
            future.set_exception(failure)
