"""The follower's side of replication: appends, heartbeats, snapshots, answers to reads, and
a leader's request to campaign at once."""

from __future__ import annotations

import logging

from photon_node.cluster.raft.state import COMMIT_ONLY, RaftState
from photon_node.core.rafttypes import Message, MsgType

logger = logging.getLogger(__name__)


class Following(RaftState):
    def _step_follower(self, m: Message) -> None:
        if m.type in (MsgType.APPEND, MsgType.HEARTBEAT, MsgType.SNAPSHOT):
            self.election_elapsed = 0
            self.leader = m.src
            if self.vote_floor == 0:
                commit = m.snapshot.index if m.snapshot else m.commit
                self.vote_floor = max(commit, 1)
        if m.type is MsgType.APPEND:
            self._handle_append(m)
        elif m.type is MsgType.HEARTBEAT:
            self.log.commit_to(min(m.commit, self.log.last_index))
            # `index` tells the leader how long our log is: a member that lost its disk
            # shows up here as shorter than the leader believed.
            # log_term carries our election timeout in ms, for the leader's lease (lease.py).
            timeout_ms = round(self.options.election_timeout * 1000)
            self._send(m.src, MsgType.HEARTBEAT_RESP, context=m.context,
                       index=self.log.last_index, log_term=timeout_ms)  # fmt: skip
        elif m.type is MsgType.SNAPSHOT:
            self._handle_snapshot(m)
        elif m.type is MsgType.READ_INDEX_RESP:
            self._reads.append((m.context, m.index))
        elif m.type is MsgType.TIMEOUT_NOW:
            if self.promotable:
                logger.info("%s: campaigning now, asked by %s", self.id, m.src)
            else:
                voters = sorted(self.log.config.voters)
                logger.warning("%s: asked by %s to campaign, but cannot (voters %s, vote floor %s)",
                               self.id, m.src, voters, self.vote_floor)  # fmt: skip
            self.campaign(pre=False, transfer=True)

    def _handle_append(self, m: Message) -> None:
        if m.index < self.log.committed:
            self._send(m.src, MsgType.APPEND_RESP, index=self.log.committed)
            return
        if not self.log.matches(m.index, m.log_term):
            hint = min(m.index, self.log.last_index)
            self._send(m.src, MsgType.APPEND_RESP, index=m.index, reject=True, reject_hint=hint)
            return
        last_new = self.log.merge(m.index, m.entries)
        self.log.commit_to(min(m.commit, last_new))
        if not (m.context == COMMIT_ONLY and not m.entries):
            self._send(m.src, MsgType.APPEND_RESP, index=last_new)

    def _handle_snapshot(self, m: Message) -> None:
        snap = m.snapshot
        assert snap is not None
        if snap.index <= self.log.committed:
            self._send(m.src, MsgType.APPEND_RESP, index=self.log.committed)
        elif self.log.matches(snap.index, snap.term):
            self.log.commit_to(snap.index)
            self._send(m.src, MsgType.APPEND_RESP, index=snap.index)
        else:
            logger.info("%s: installing snapshot at %d from %s", self.id, snap.index, m.src)
            self.log.restore(snap)
            self._pending_snapshot = snap
            self._send(m.src, MsgType.APPEND_RESP, index=snap.index)

    def accepts_snapshot(self, m: Message) -> bool:
        """Would step(m) install m.snapshot? Lets the driver skip streaming data we won't use."""
        snap = m.snapshot
        return (
            snap is not None
            and m.term >= self.term
            and snap.index > self.log.committed
            and not self.log.matches(snap.index, snap.term)
        )
