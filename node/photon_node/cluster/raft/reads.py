"""ReadIndex reads: a read point confirmed by one heartbeat round shared by every read started
before it, or answered at once under the leader lease (lease.py)."""

from __future__ import annotations

from photon_node.cluster.raft.state import NotLeader, RaftState, ReadRound, Role
from photon_node.core.rafttypes import MsgType


class Reads(RaftState):
    def read_index(self, context: bytes) -> None:
        """Ask for a linearizable read point; it appears in Ready.reads once confirmed. On a
        follower the leader confirms it and answers with its commit index."""
        if self.role is not Role.LEADER:
            if not self.leader:
                raise NotLeader("")
            self._send(self.leader, MsgType.READ_INDEX, context=context)
            return
        self._read_for(context, self.id)

    def _read_for(self, context: bytes, requester: str) -> None:
        if self.log.term(self.log.committed) != self.term:
            self.pending_reads.append((context, requester))
            return
        self._start_read(context, requester)

    def _answer_read(self, context: bytes, requester: str, index: int) -> None:
        if requester == self.id:
            self._reads.append((context, index))
        else:
            self._send(requester, MsgType.READ_INDEX_RESP, index=index, context=context)

    def _start_read(self, context: bytes, requester: str) -> None:
        if self.lease.valid(self.now) and not self.transferee:
            self._answer_read(context, requester, self.log.committed)  # no round needed
            return
        round_ = ReadRound(context, self.log.committed, {self.id}, requester)
        self.read_rounds.append(round_)
        if len(self.log.config.voters) == 1:
            self._release_reads(round_)
        else:
            # One heartbeat round, sent at the next ready(), confirms every read started
            # before it: concurrent reads share it.
            self._round_pending = True

    def _ack_read(self, context: bytes, peer: str) -> None:
        voters = self.log.config.voters
        for round_ in self.read_rounds:
            if round_.context == context:
                if peer in voters:
                    round_.acks.add(peer)
                if len(round_.acks & voters) >= self._quorum():
                    self._release_reads(round_)
                return

    def _release_reads(self, upto: ReadRound) -> None:
        """A confirmed round also confirms every earlier one (they were started before it)."""
        while self.read_rounds:
            round_ = self.read_rounds.pop(0)
            self._answer_read(round_.context, round_.requester, round_.index)
            if round_ is upto:
                return
