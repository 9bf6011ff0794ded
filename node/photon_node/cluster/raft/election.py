"""Elections and roles: pre-vote and vote, campaigns, becoming follower or leader, and the
leader's view of the membership after a configuration change."""

from __future__ import annotations

import logging

from photon_node.cluster.raft.progress import Progress
from photon_node.cluster.raft.state import TRANSFER, RaftState, Role
from photon_node.core.rafttypes import EntryKind, Message, MsgType

logger = logging.getLogger(__name__)


class Elections(RaftState):
    def _become_follower(self, term: int, leader: str) -> None:
        if term > self.term:
            self.term, self.vote = term, ""
        if self.role is not Role.FOLLOWER or leader != self.leader:
            logger.debug("%s: follower in term %d, leader %s", self.id, term, leader or "-")
        self.role = Role.FOLLOWER
        self.leader = leader
        self.transferee = ""
        self.lease.reset()
        self.read_rounds.clear()
        self.pending_reads.clear()
        self._reset_timeout()

    def campaign(self, pre: bool, transfer: bool = False) -> None:
        if not self.promotable:
            return
        if pre:
            self.role = Role.PRE_CANDIDATE
            term = self.term + 1
            kind = MsgType.PRE_VOTE
        else:
            self.role = Role.CANDIDATE
            self.term += 1
            self.vote = self.id
            term = self.term
            kind = MsgType.VOTE
        self.leader = ""
        self.votes = {self.id: True}
        self._reset_timeout()
        if self._tally() == "won":
            self._won(pre)
            return
        for peer in sorted(self.log.config.voters - {self.id}):
            self._msgs.append(
                Message(kind, self.id, peer, term, self.group, self.log.last_term,
                        self.log.last_index, context=TRANSFER if transfer else b"")
            )  # fmt: skip

    def _tally(self) -> str:
        voters = self.log.config.voters
        granted = sum(1 for v, ok in self.votes.items() if ok and v in voters)
        rejected = sum(1 for v, ok in self.votes.items() if not ok and v in voters)
        if granted >= self._quorum():
            return "won"
        if rejected >= self._quorum():
            return "lost"
        return "pending"

    def _won(self, pre: bool) -> None:
        if pre:
            self.campaign(pre=False)
        else:
            self._become_leader()

    def _become_leader(self) -> None:
        self.role = Role.LEADER
        self.leader = self.id
        self.transferee = ""
        self.lease.reset()
        self.progress = {}
        self.departing = {}
        for member in self.log.config.members:
            self.progress[member] = Progress(next=self.log.last_index + 1)
        self.progress[self.id].match = self.log.stable
        self._reset_timeout()
        logger.info("%s: leader in term %d", self.id, self.term)
        self.propose(b"", EntryKind.NOOP)

    def _apply_config(self) -> None:
        """Bring leader progress in line with the latest configuration in the log."""
        if self.role is not Role.LEADER:
            return
        self.lease.reset()  # acknowledgements of the old voters do not count for the new ones
        members = self.log.config.members
        for member in members - self.progress.keys():
            self.progress[member] = Progress(next=self.log.last_index + 1)
        for member in set(self.progress) - members - {self.id}:
            self.departing.setdefault(member, self.log.config_index)
        for member in members & self.departing.keys():
            del self.departing[member]
        if self.transferee and self.transferee not in self.log.config.voters:
            self.transferee = ""

    def _handle_vote_request(self, m: Message) -> None:
        pre = m.type is MsgType.PRE_VOTE
        can_vote = (
            self.vote == m.src
            or (not self.vote and not self.leader)
            or (pre and m.term > self.term)
        )
        # Votes are granted without consulting our own configuration (Raft thesis §4.1): a
        # node that has not yet learnt it was re-added must still be able to elect the leader
        # that will tell it. The candidate counts only the votes of its configuration's voters.
        grant = can_vote and self.log.up_to_date(m.index, m.log_term) and not self.withholding_votes
        resp = MsgType.PRE_VOTE_RESP if pre else MsgType.VOTE_RESP
        # A granted pre-vote answers in the candidate's future term; everything else in ours.
        self._msgs.append(
            Message(resp, self.id, m.src, m.term if grant else self.term, self.group,
                    reject=not grant)
        )  # fmt: skip
        if grant and not pre:
            self.vote = m.src
            self.election_elapsed = 0

    def _step_candidate(self, m: Message) -> None:
        expected = MsgType.PRE_VOTE_RESP if self.role is Role.PRE_CANDIDATE else MsgType.VOTE_RESP
        if m.type in (MsgType.APPEND, MsgType.HEARTBEAT, MsgType.SNAPSHOT):
            self._become_follower(m.term, m.src)
            self._step_follower(m)
        elif m.type is expected:
            self.votes[m.src] = not m.reject
            outcome = self._tally()
            if outcome == "won":
                self._won(self.role is Role.PRE_CANDIDATE)
            elif outcome == "lost":
                self._become_follower(self.term, "")
