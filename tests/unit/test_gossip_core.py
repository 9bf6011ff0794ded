"""The gossip core's rules (precedence, refutation, probing, piggybacking) and its wire codec."""

from __future__ import annotations

import contextlib
import random
from dataclasses import replace

import pytest

from photon_node.cluster.gossip import codec
from photon_node.cluster.gossip.broadcasts import retransmit_limit
from photon_node.cluster.gossip.core import GossipCore, MemberMeta, MemberState, Outbound
from photon_node.cluster.gossip.model import Ack, Leave, MemberUpdate, Ping, PingReq, PushPull

ALIVE, SUSPECT, DEAD, LEFT = (
    MemberState.ALIVE,
    MemberState.SUSPECT,
    MemberState.DEAD,
    MemberState.LEFT,
)


def meta(node_id: str, **changes) -> MemberMeta:
    fields = {
        "peer_addr": f"{node_id}:7701",
        "client_addr": f"{node_id}:7700",
        "roles": ("data",),
        "version": "1.0",
        "protocol": 1,
        "min_protocol": 1,
    }
    return MemberMeta(node_id, **{**fields, **changes})


def update(node_id: str, state: MemberState, incarnation: int, **changes) -> MemberUpdate:
    return MemberUpdate(meta(node_id, **changes), state, incarnation)


def new_core(node_id: str = "a", seed: int = 1, **options) -> GossipCore:
    return GossipCore(meta(node_id), random.Random(seed), **options)


def gossip(core: GossipCore, *updates: MemberUpdate, now: float = 0.0) -> list[Outbound]:
    return core.receive("z:7701", PushPull("z", updates), now)


def state_of(core: GossipCore, node_id: str) -> tuple[MemberState, int]:
    member = core.members()[node_id]
    return member.state, member.incarnation


def run_until(core: GossipCore, start: float, until: float, step: float = 0.05):
    """Tick every `step`; yields (now, outbound) for every tick that sent something."""
    now = start
    while now <= until + 1e-9:
        out = core.tick(now)
        if out:
            yield now, out
        now = round(now + step, 6)


def pings(out: list[Outbound]) -> list[Ping]:
    return [o.message for o in out if isinstance(o.message, Ping)]


# -- state precedence --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("held", "heard", "result"),
    [
        ((ALIVE, 1), (SUSPECT, 1), (SUSPECT, 1)),
        ((SUSPECT, 1), (ALIVE, 1), (SUSPECT, 1)),
        ((SUSPECT, 1), (ALIVE, 2), (ALIVE, 2)),
        ((ALIVE, 2), (SUSPECT, 1), (ALIVE, 2)),
        ((SUSPECT, 1), (DEAD, 1), (DEAD, 1)),
        ((DEAD, 1), (SUSPECT, 1), (DEAD, 1)),
        ((DEAD, 1), (ALIVE, 1), (DEAD, 1)),
        ((DEAD, 1), (ALIVE, 2), (ALIVE, 2)),
        ((DEAD, 1), (LEFT, 1), (LEFT, 1)),
        ((LEFT, 1), (DEAD, 1), (LEFT, 1)),
        ((LEFT, 1), (ALIVE, 1), (LEFT, 1)),
        ((LEFT, 1), (SUSPECT, 1), (LEFT, 1)),
        ((LEFT, 1), (ALIVE, 2), (ALIVE, 2)),
        ((ALIVE, 1), (LEFT, 1), (LEFT, 1)),
        ((ALIVE, 3), (DEAD, 2), (ALIVE, 3)),
    ],
)
def test_state_precedence(held, heard, result):
    core = new_core()
    gossip(core, update("b", ALIVE, 0), update("b", *held))
    assert state_of(core, "b") == held
    gossip(core, update("b", *heard))
    assert state_of(core, "b") == result


def test_news_of_an_unknown_members_death_is_not_learned():
    core = new_core()
    gossip(core, update("b", DEAD, 4), update("c", LEFT, 1))
    assert set(core.members()) == {"a"}


def test_metadata_follows_incarnation_then_meta_version():
    core = new_core()
    gossip(core, update("b", ALIVE, 1, meta_version=2, draining=True))
    gossip(core, update("b", ALIVE, 1, meta_version=1))  # older: ignored
    assert core.members()["b"].meta.draining
    gossip(core, update("b", SUSPECT, 1, meta_version=3, version="1.1"))
    member = core.members()["b"]
    assert (member.state, member.meta.meta_version, member.meta.version) == (SUSPECT, 3, "1.1")
    gossip(core, update("b", ALIVE, 2, meta_version=0, version="2.0"))  # a restarted process
    member = core.members()["b"]
    assert (member.state, member.meta.version) == (ALIVE, "2.0")


def test_events_report_joins_transitions_and_metadata_changes():
    core = new_core()
    gossip(core, update("b", ALIVE, 1))
    gossip(core, update("b", ALIVE, 1, meta_version=1, draining=True))
    gossip(core, update("b", SUSPECT, 1, meta_version=1, draining=True))
    gossip(core, update("b", SUSPECT, 1, meta_version=1, draining=True))  # no news
    events = [(node, old, member.state) for node, old, member in core.drain_events()]
    assert events == [("b", None, ALIVE), ("b", ALIVE, ALIVE), ("b", ALIVE, SUSPECT)]
    assert core.drain_events() == []


# -- refutation and restarts -------------------------------------------------------------------
def test_a_suspected_node_refutes_with_a_higher_incarnation():
    core = new_core()
    gossip(core, update("b", ALIVE, 0))
    gossip(core, update("a", SUSPECT, 0))
    assert state_of(core, "a") == (ALIVE, 1)
    assert [(n, old) for n, old, _ in core.drain_events()] == [("b", None), ("a", SUSPECT)]
    ack = core.receive("b:7701", Ping(9, "b", "a"), 1.0)[0].message
    assert update("a", ALIVE, 1) in ack.updates
    gossip(core, update("a", DEAD, 0), update("a", ALIVE, 1))  # old news: nothing to refute
    assert state_of(core, "a") == (ALIVE, 1)


def test_a_restarted_process_outbids_its_previous_record():
    old_view = new_core("b")
    gossip(old_view, update("a", ALIVE, 5, meta_version=7, version="1.0"))
    gossip(old_view, update("a", DEAD, 5, meta_version=7, version="1.0"))
    restarted = GossipCore(meta("a", version="2.0"), random.Random(2))  # incarnation 0
    request = restarted.join(["b:7701"], 0.0)[0]
    reply = old_view.receive("a:7701", request.message, 0.0)  # ALIVE 0 loses to DEAD 5 ...
    assert state_of(old_view, "a") == (DEAD, 5)
    restarted.receive("b:7701", reply[0].message, 0.1)  # ... but a learns it and outbids
    assert state_of(restarted, "a") == (ALIVE, 6)
    gossip(old_view, *restarted.join(["b:7701"], 0.2)[0].message.states)
    member = old_view.members()["a"]
    assert (member.state, member.incarnation, member.meta.version) == (ALIVE, 6, "2.0")


def test_the_same_incarnation_with_other_metadata_is_refuted():
    core = new_core()
    gossip(core, update("a", ALIVE, 0, client_addr="elsewhere:7700"))
    assert state_of(core, "a") == (ALIVE, 1)


def test_after_leaving_a_node_neither_refutes_nor_answers():
    core = new_core()
    gossip(core, update("b", ALIVE, 0), update("c", ALIVE, 0), update("d", DEAD, 0))
    out = core.leave(1.0)
    assert sorted(o.addr for o in out) == ["b:7701", "c:7701"]
    assert all(o.message == Leave("a", (update("a", LEFT, 0),)) for o in out)
    assert core.receive("b:7701", PushPull("b", (update("a", SUSPECT, 0),), True), 2.0) == []
    assert core.tick(3.0) == [] and state_of(core, "a") == (LEFT, 0)
    peer = new_core("b")
    gossip(peer, update("a", ALIVE, 0))
    peer.receive("a:7701", out[0].message, 1.0)
    assert state_of(peer, "a") == (LEFT, 0)


def test_messages_from_our_own_id_are_ignored():
    core = new_core()
    assert core.receive("a:7701", PushPull("a", (update("b", ALIVE, 0),), True), 0.0) == []
    assert set(core.members()) == {"a"}


# -- probing -----------------------------------------------------------------------------------
def cluster_view(**options) -> GossipCore:
    core = new_core(**options)
    gossip(core, *(update(n, ALIVE, 0) for n in "bcd"))
    return core


def first_ping(core: GossipCore) -> tuple[float, Ping, str]:
    for now, out in run_until(core, 0.0, 2.0):
        for item in out:
            if isinstance(item.message, Ping):
                return now, item.message, item.addr
    raise AssertionError("no probe within two periods")


def test_unanswered_probe_goes_indirect_then_suspect_then_dead_then_reaped():
    core = cluster_view(indirect_probes=2, suspicion_timeout=5.0, dead_reap_after=100.0)
    t0, ping, addr = first_ping(core)
    assert addr == f"{ping.target}:7701"
    target = ping.target
    out = core.tick(t0 + 0.4)
    requests = [o for o in out if isinstance(o.message, PingReq)]
    assert len(requests) == 2
    assert {o.addr for o in requests} == {f"{n}:7701" for n in "bcd" if n != target}
    assert all((r.message.seq, r.message.target) == (ping.seq, target) for r in requests)
    core.tick(t0 + 0.99)
    assert state_of(core, target)[0] is ALIVE
    core.tick(t0 + 1.0)
    assert state_of(core, target)[0] is SUSPECT
    core.tick(t0 + 5.99)
    assert state_of(core, target)[0] is SUSPECT
    core.tick(t0 + 6.0)
    assert state_of(core, target)[0] is DEAD
    core.tick(t0 + 105.9)
    assert target in core.members()
    core.tick(t0 + 106.0)
    assert target not in core.members()


def test_an_ack_ends_the_probe():
    core = cluster_view()
    t0, ping, _ = first_ping(core)
    core.receive(f"{ping.target}:7701", Ack(ping.seq, ping.target), t0 + 0.1)
    out = core.tick(t0 + 0.5)
    assert not [o for o in out if isinstance(o.message, PingReq)]
    core.tick(t0 + 1.0)
    assert state_of(core, ping.target)[0] is ALIVE


def test_an_ack_with_another_seq_does_not_count():
    core = cluster_view()
    t0, ping, _ = first_ping(core)
    core.receive(f"{ping.target}:7701", Ack(ping.seq + 1, ping.target), t0 + 0.1)
    core.tick(t0 + 1.0)
    assert state_of(core, ping.target)[0] is SUSPECT


def test_every_live_member_is_probed_within_two_rounds():
    core = new_core()
    names = [f"m{i}" for i in range(7)]
    gossip(core, *(update(n, ALIVE, 0) for n in names))
    probed: dict[str, list[float]] = {n: [] for n in names}
    for now, out in run_until(core, 0.0, 60.0):
        for ping in pings(out):
            probed[ping.target].append(now)
            core.receive(f"{ping.target}:7701", Ack(ping.seq, ping.target), now)
    for times in probed.values():
        gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
        assert max(gaps) <= (2 * len(names) - 1) * 1.0 + 1e-6


def test_a_ping_req_is_relayed_and_its_ack_forwarded():
    core = new_core()
    out = core.receive("c:7701", PingReq(77, "c", "b", "b:7701"), 0.0)
    assert len(out) == 1 and out[0].addr == "b:7701"
    relayed = out[0].message
    assert isinstance(relayed, Ping) and relayed.target == "b" and relayed.source == "a"
    out = core.receive("b:7701", Ack(relayed.seq, "b"), 0.1)
    assert [(o.addr, o.message.seq) for o in out] == [("c:7701", 77)]
    assert core.receive("b:7701", Ack(relayed.seq, "b"), 0.2) == []  # forwarded once


def test_only_the_named_target_answers_a_ping():
    core = new_core()
    assert core.receive("b:7701", Ping(5, "b", "someone-else"), 0.0) == []
    out = core.receive("b:7701", Ping(5, "b", "a"), 0.0)
    assert [(o.addr, o.message.seq, o.message.source) for o in out] == [("b:7701", 5, "a")]


def test_a_member_believed_dead_hears_it_first_in_our_reply():
    core = new_core(max_piggyback=1)
    gossip(core, update("b", ALIVE, 3), *(update(f"x{i}", ALIVE, 0) for i in range(5)))
    gossip(core, update("b", DEAD, 3))
    ack = core.receive("b:7701", Ping(1, "b", "a"), 0.0)[0].message
    assert ack.updates == (update("b", DEAD, 3),)


# -- piggybacking and anti-entropy -------------------------------------------------------------
def test_piggyback_is_bounded_and_each_update_is_retransmitted_a_limited_number_of_times():
    core = new_core(max_piggyback=3)
    gossip(core, *(update(f"m{i}", ALIVE, 0) for i in range(20)))
    sent: dict[str, int] = {}
    for seq in range(200):
        ack = core.receive("z:7701", Ping(seq, "z", "a"), 0.0)[0].message
        assert len(ack.updates) <= 3
        for item in ack.updates:
            sent[item.node_id] = sent.get(item.node_id, 0) + 1
    limit = retransmit_limit(4, 21)
    assert set(sent) == {f"m{i}" for i in range(20)}
    assert set(sent.values()) == {limit}


def test_join_push_pulls_with_each_seed_once_and_seeds_reply_with_everything():
    core = new_core()
    out = core.join(["s1:7701", "s2:7701", "s1:7701", "a:7701"], 0.0)
    assert [o.addr for o in out] == ["s1:7701", "s2:7701"]
    assert all(isinstance(o.message, PushPull) and o.message.reply for o in out)
    seed = new_core("s1")
    gossip(seed, update("c", ALIVE, 2))
    reply = seed.receive("a:7701", out[0].message, 0.0)
    assert [o.addr for o in reply] == ["a:7701"] and not reply[0].message.reply
    core.receive("s1:7701", reply[0].message, 0.1)
    assert set(core.members()) == {"a", "s1", "c"}
    assert seed.receive("a:7701", reply[0].message, 0.2) == []  # no reply to a reply


def test_periodic_push_pull_also_reconnects_to_a_dead_member():
    core = new_core(push_pull_interval=10.0)
    gossip(core, update("b", ALIVE, 0), update("c", ALIVE, 0), update("c", DEAD, 0))
    targets = []
    for now, out in run_until(core, 0.0, 10.0, 0.1):
        for ping in pings(out):  # b answers, so it stays alive
            core.receive("b:7701", Ack(ping.seq, "b"), now)
        targets += [o.addr for o in out if isinstance(o.message, PushPull)]
    assert sorted(targets) == ["b:7701", "c:7701"]


def test_update_local_bumps_meta_version_and_is_gossiped():
    core = new_core()
    core.update_local(meta("a", draining=True))
    core.update_local(meta("a", draining=True))  # unchanged: no bump
    assert core.members()["a"].meta.meta_version == 1
    assert [(n, old) for n, old, _ in core.drain_events()] == [("a", ALIVE)]
    ack = core.receive("b:7701", Ping(1, "b", "a"), 0.0)[0].message
    assert ack.updates[0].meta.draining
    with pytest.raises(ValueError, match="update_local"):
        core.update_local(meta("b"))


def test_alone_deadlines_and_determinism():
    def trace(seed: int) -> list:
        core = cluster_view(seed=seed)
        return [(now, out) for now, out in run_until(core, 0.0, 20.0, 0.1)]

    assert trace(3) == trace(3)
    core = new_core()
    assert core.is_alone() and core.next_deadline() == 0.0
    core.tick(0.0)
    assert 0.0 <= core.next_deadline() <= 1.0
    gossip(core, update("b", SUSPECT, 0))
    assert not core.is_alone()
    with pytest.raises(ValueError, match="probe_timeout"):
        new_core(probe_timeout=2.0)


# -- codec -------------------------------------------------------------------------------------
RICH = MemberUpdate(
    meta("b", roles=("data", "coordinator"), features=("f1",), draining=True, storage_ok=False,
         metrics=(("revision", 12.0), ("keys", 3.5)), meta_version=4),
    SUSPECT,
    2**62,
)  # fmt: skip
MESSAGES = [
    Ping(1, "a", "b", (RICH,)),
    Ack(2**64 - 1, "b", ()),
    PingReq(3, "a", "b", "[::1]:7701", (RICH, update("c", ALIVE, 0))),
    PushPull("a", (RICH,), reply=True),
    Leave("a", (update("a", LEFT, 7),)),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_codec_round_trips_every_message(message):
    [data] = codec.encode(message)
    assert data[0] == codec.CODEC_VERSION
    assert codec.decode(data) == message


def test_a_large_push_pull_is_split_into_datagrams_that_fit():
    states = tuple(
        update(f"node-{i:04d}", ALIVE, i, metrics=tuple((f"m{j}", float(j)) for j in range(8)))
        for i in range(1500)
    )
    parts = codec.encode(PushPull("a", states, reply=True))
    assert len(parts) > 1 and all(len(p) <= codec.MAX_PAYLOAD for p in parts)
    decoded = [codec.decode(p) for p in parts]
    assert [m.reply for m in decoded] == [True] + [False] * (len(parts) - 1)
    assert tuple(s for m in decoded for s in m.states) == states


def test_oversized_records_lose_metrics_and_piggyback_drops_what_does_not_fit():
    huge = update("b", ALIVE, 1, metrics=tuple((f"metric-{i}", 1.0) for i in range(5000)))
    [data] = codec.encode(PushPull("a", (huge,)))
    assert codec.decode(data).states == (MemberUpdate(replace(huge.meta, metrics=()), ALIVE, 1),)
    many = tuple(update(f"n{i}", ALIVE, 0, version="v" * 900) for i in range(200))
    [data] = codec.encode(Ping(1, "a", "b", many))
    assert len(data) <= codec.MAX_PAYLOAD
    assert 0 < len(codec.decode(data).updates) < 200


def test_non_finite_metrics_are_not_sent():
    sent = update("b", ALIVE, 0, metrics=(("ok", 1.0), ("bad", float("nan"))))
    [data] = codec.encode(Ack(1, "b", (sent,)))
    assert codec.decode(data).updates[0].meta.metrics == (("ok", 1.0),)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01",
        b"\x02\x01{}",
        b"\x01\x09{}",
        b"\x01\x01[]",
        b"\x01\x01{",
        b"\x01\x01\xff\xfe",
        b'\x01\x02{"seq":-1,"src":"a","u":[]}',
        b'\x01\x02{"seq":true,"src":"a","u":[]}',
        b'\x01\x02{"seq":1,"src":"a","u":[1]}',
        b'\x01\x02{"seq":1,"src":"a"}',
        b'\x01\x02{"seq":NaN,"src":"a","u":[]}',
        b'\x01\x02{"seq":1' + b"0" * 5000 + b',"src":"a","u":[]}',
        b"\x01\x04" + b"[" * 100_000,
    ],
)
def test_codec_rejects_malformed_input_with_a_codec_error(data):
    with pytest.raises(codec.CodecError):
        codec.decode(data)
    assert issubclass(codec.CodecError, ValueError)


def test_codec_never_raises_anything_else_on_mangled_frames():
    rng = random.Random(42)
    frames = [d for m in MESSAGES for d in codec.encode(m)]
    for _ in range(5000):
        data = bytearray(rng.choice(frames))
        for _ in range(rng.randint(1, 4)):
            if not data:
                break
            action = rng.random()
            if action < 0.4:
                data[rng.randrange(len(data))] = rng.randrange(256)
            elif action < 0.7:
                del data[rng.randrange(len(data)) :]
            else:
                data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
        with contextlib.suppress(codec.CodecError):  # anything else fails the test
            codec.decode(bytes(data))
