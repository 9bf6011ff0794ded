"""The leader's side of replication: heartbeats and check-quorum, per-follower progress,
appends and snapshots, commitment, forwarded proposals and leadership transfer."""

from __future__ import annotations

import logging

from photon_node.cluster.raft.progress import Progress, ProgressState
from photon_node.cluster.raft.state import (
    COMMIT_ONLY,
    NotLeader,
    ProposalRefused,
    RaftState,
    Role,
)
from photon_node.core.rafttypes import Message, MsgType, SnapshotMeta

logger = logging.getLogger(__name__)


class Leading(RaftState):
    def transfer_leadership(self, target: str) -> None:
        if self.role is not Role.LEADER:
            raise NotLeader(self.leader)
        if target == self.id:
            return
        if target not in self.log.config.voters:
            raise ProposalRefused(f"{target} is not a voter")
        self.transferee = target
        self.lease.reset()  # the transferee will campaign past the followers' stickiness
        self.transfer_elapsed = 0
        progress = self.progress[target]
        if progress.match == self.log.last_index:
            self._send(target, MsgType.TIMEOUT_NOW)
        else:
            self._send_append(target)

    def report_snapshot(self, peer: str, success: bool) -> None:
        progress = self.progress.get(peer)
        if self.role is not Role.LEADER or not progress:
            return
        if progress.state is ProgressState.SNAPSHOT:
            if not success:
                progress.pending_snapshot = 0
            progress.become_probe()
            progress.paused = True  # wait for the follower's response before probing again

    def report_unreachable(self, peer: str) -> None:
        progress = self.progress.get(peer)
        if self.role is Role.LEADER and progress and progress.state is ProgressState.REPLICATE:
            progress.become_probe()

    def _tick_leader(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.options.election_ticks:
            self.election_elapsed = 0
            for peer in [p for p in self.departing if not self.progress[p].recent_active]:
                del self.departing[peer]  # silent for a whole timeout: stop telling it
                del self.progress[peer]
            if self.options.check_quorum and not self._quorum_active():
                logger.info("%s: lost contact with a quorum; stepping down", self.id)
                self._become_follower(self.term, "")
                return
            if self.transferee:
                self.transferee = ""  # the transfer did not complete in time
        if self.heartbeat_elapsed >= self.options.heartbeat_ticks:
            self.heartbeat_elapsed = 0
            self._broadcast_heartbeat(self.read_rounds[-1].context if self.read_rounds else b"")

    def _quorum_active(self) -> bool:
        voters = self.log.config.voters
        active = sum(
            1
            for peer, progress in self.progress.items()
            if peer in voters and (progress.recent_active or peer == self.id)
        )
        for progress in self.progress.values():
            progress.recent_active = False
        return active >= self._quorum()

    def _step_leader(self, m: Message) -> None:
        if m.type is MsgType.PROPOSE:
            if m.src in self.log.config.members:
                self._accept_forwarded(m)
            return
        if m.type is MsgType.READ_INDEX:
            if m.src in self.log.config.members:
                self._read_for(m.context, m.src)
            return
        progress = self.progress.get(m.src)
        if progress is None:
            return
        progress.recent_active = True
        if m.type is MsgType.APPEND_RESP:
            self._handle_append_resp(m, progress)
        elif m.type is MsgType.HEARTBEAT_RESP:
            if m.index < progress.match:
                progress.match = m.index  # it lost acknowledged entries (a wiped disk)
                progress.become_probe()
            if progress.match < self.log.last_index:
                progress.paused = False
                if len(progress.inflight) >= self.options.max_inflight:
                    progress.inflight.popleft()  # an append was lost: let one more through
                self._send_append(m.src)
            if m.context:
                self._ack_read(m.context, m.src)
                self.lease.acked(m.context, m.src, self.id, self.log.config.voters,
                                 m.log_term / 1000)  # fmt: skip

    def _handle_append_resp(self, m: Message, progress: Progress) -> None:
        if m.reject:
            if progress.rejected(m.index, m.reject_hint):
                if progress.state is ProgressState.REPLICATE:
                    progress.become_probe()
                self._send_append(m.src)
            return
        if not progress.update(m.index):
            return
        if m.src in self.departing and progress.match >= self.departing[m.src]:
            del self.departing[m.src]  # it now knows it was removed
            del self.progress[m.src]
            return
        if progress.state is ProgressState.PROBE:
            progress.become_replicate()
        elif (
            progress.state is ProgressState.SNAPSHOT and progress.match >= progress.pending_snapshot
        ):
            progress.become_probe()
        if self._maybe_commit():
            self._commit_news = True
        else:
            self._send_append(m.src, only_if_new=True)
        if m.src == self.transferee and progress.match == self.log.last_index:
            self._send(m.src, MsgType.TIMEOUT_NOW)

    def _accept_forwarded(self, m: Message) -> None:
        if self.transferee or m.context in self.seen_proposals:
            return  # dropped: the proposer times out and reports an unknown outcome
        self.seen_proposals[m.context] = None
        if len(self.seen_proposals) > 100_000:
            del self.seen_proposals[next(iter(self.seen_proposals))]
        for entry in m.entries:
            self.propose(entry.data)

    def _maybe_commit(self) -> bool:
        voters = self.log.config.voters
        matches = sorted(
            (self.progress[v].match if v in self.progress else 0 for v in voters), reverse=True
        )
        if not matches:
            return False
        index = matches[self._quorum() - 1]
        if index > self.log.committed and self.log.term(index) == self.term:
            self.log.commit_to(index)
            self._on_commit()
            return True
        return False

    def _on_commit(self) -> None:
        if self.pending_reads and self.log.term(self.log.committed) == self.term:
            pending, self.pending_reads = self.pending_reads, []
            for context, requester in pending:
                self._start_read(context, requester)

    def _broadcast_heartbeat(self, context: bytes) -> None:
        if self.lease.enabled:
            context = context or self.lease.new_context()
            self.lease.sent(context, self.now)
        for peer in self._peers():
            progress = self.progress[peer]
            commit = min(progress.match, self.log.committed)
            self._send(peer, MsgType.HEARTBEAT, commit=commit, context=context)

    def _send_append(self, peer: str, only_if_new: bool = False, commit_only: bool = False) -> None:
        """Send `peer` what it lacks. `commit_only`: if that is nothing, the append only tells
        it the commit index and needs no answer (its last append's answer, or the heartbeats'
        if that was lost, tell us where it is)."""
        progress = self.progress.get(peer)
        if progress is None or progress.blocked(self.options.max_inflight):
            return
        if (
            only_if_new
            and progress.next > self.log.last_index
            and (progress.state is ProgressState.REPLICATE or progress.paused)
        ):
            return
        prev = progress.next - 1
        prev_term = self.log.term(prev)
        if prev_term is None:
            self._send_snapshot(peer, progress)
            return
        entries = self.log.slice(progress.next, self.log.last_index + 1, self.options.max_msg_bytes)
        replicating = progress.state is ProgressState.REPLICATE
        context = COMMIT_ONLY if commit_only and replicating and not entries else b""
        self._msgs.append(
            Message(MsgType.APPEND, self.id, peer, self.term, self.group, prev_term, prev,
                    tuple(entries), self.log.committed, context=context)
        )  # fmt: skip
        if progress.state is ProgressState.REPLICATE and entries:
            progress.next = entries[-1].index + 1
            progress.inflight.append(entries[-1].index)
        elif progress.state is ProgressState.PROBE:
            progress.paused = True

    def _send_snapshot(self, peer: str, progress: Progress) -> None:
        index = self.log.applied
        term = self.log.term(index)
        assert term is not None
        meta = SnapshotMeta(index, term, self.log.config_at(index))
        progress.become_snapshot(index)
        self._msgs.append(
            Message(MsgType.SNAPSHOT, self.id, peer, self.term, self.group, snapshot=meta)
        )
