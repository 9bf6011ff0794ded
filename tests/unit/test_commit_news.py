"""The append that only tells followers the commit index needs no answer.

When a round commits, the leader tells every follower the new commit index at once (their
clients are waiting for it) in an APPEND without entries. A follower whose log matches need not
answer it: its answer to the round's own append already told the leader where it is. Three
cores exchange messages here by hand, each Ready taken as persisted at once.
"""

import random

from photon_node.cluster.raft.core import COMMIT_ONLY, RaftCore, RaftOptions, Role
from photon_node.core.rafttypes import Config, HardState, Message, MsgType, SnapshotMeta

CONFIG = Config.of({"n1": "n1:1", "n2": "n2:1", "n3": "n3:1"})


def cluster() -> dict[str, RaftCore]:
    options = RaftOptions(check_quorum=False, pre_vote=False)
    boot = SnapshotMeta(0, 0, CONFIG)
    return {
        node: RaftCore(node, HardState(), boot, [], 0, random.Random(i), options)
        for i, node in enumerate(sorted(CONFIG.voters))
    }


def drain(core: RaftCore) -> list[Message]:
    """Every message of the core's Readys, the Readys taken as persisted and applied."""
    sent = []
    while core.has_ready():
        ready = core.ready()
        sent += ready.messages
        core.advance(ready)
    return sent


def deliver(cores: dict[str, RaftCore], messages: list[Message], drop=lambda m: False) -> list:
    """Deliver until quiet; returns every message sent (dropped ones included)."""
    seen, queue = [], list(messages)
    while queue:
        message = queue.pop(0)
        seen.append(message)
        if not drop(message):
            cores[message.dst].step(message)
            queue += drain(cores[message.dst])
    return seen


def elected() -> tuple[dict[str, RaftCore], RaftCore]:
    cores = cluster()
    leader = cores["n1"]
    leader.campaign(pre=False)
    deliver(cores, drain(leader))
    assert leader.role is Role.LEADER
    return cores, leader


def test_the_commit_news_is_not_answered():
    cores, leader = elected()
    leader.propose(b"x")
    seen = deliver(cores, drain(leader))
    news = [m for m in seen if m.type is MsgType.APPEND and m.context == COMMIT_ONLY]
    assert {m.dst for m in news} == {"n2", "n3"} and not any(m.entries for m in news)
    answers = [m for m in seen if m.type is MsgType.APPEND_RESP]
    assert len(answers) == 2, answers  # one per follower, for the entry; none for the news
    assert all(core.log.committed == leader.log.last_index for core in cores.values())


def test_a_follower_that_does_not_match_still_answers():
    cores, leader = elected()
    news = Message(MsgType.APPEND, "n1", "n2", leader.term, leader.group,
                   log_term=leader.term, index=leader.log.last_index + 5, commit=1,
                   context=COMMIT_ONLY)  # fmt: skip
    cores["n2"].step(news)
    answers = [m for m in drain(cores["n2"]) if m.type is MsgType.APPEND_RESP]
    assert len(answers) == 1 and answers[0].reject


def test_a_lost_answer_is_recovered_by_the_heartbeats():
    """n3's answer to the entry is lost, and it does not answer the news: the leader learns
    where n3 is from the append it sends after n3's next heartbeat answer."""
    cores, leader = elected()
    leader.propose(b"x")
    lost = lambda m: m.type is MsgType.APPEND_RESP and m.src == "n3"  # noqa: E731
    deliver(cores, drain(leader), drop=lost)
    last = leader.log.last_index
    assert leader.progress["n3"].match < last and cores["n3"].log.last_index == last
    for _ in range(leader.options.heartbeat_ticks):
        leader.tick()
    deliver(cores, drain(leader))
    assert leader.progress["n3"].match == last
