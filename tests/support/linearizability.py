"""Linearizability checker for the key-value API, used by the Raft simulation and process tests.

Record calls with `History` (or build `Op`s), then `check(ops)`. The model is one register per
key, checked apart (linearizability is compositional):
- A key is absent or holds (value, revision); every key starts absent. Each successful PUT or
  DELETE returns a store-wide unique revision, so the writes to a key take effect in that order.
- A failed precondition or not_found has no effect. A call with an unknown outcome (timeout,
  reset, 503) may take effect at any instant after its invocation, or never. Nobody learned an
  unknown PUT's revision: it may be one that a read (with that value) or an `if_revision` saw but
  no call returned, or one nobody saw.

Revision-order violations (duplicate or out-of-order revisions, stale reads, a CAS on an old
revision) are found without a search. The rest is Wing & Gong's search with Lowe's memo, as in
Porcupine and Knossos, plus reductions that keep it near-linear: a read or failure is placed as
soon as it fits; acked writes go in revision order; unknown calls with the same effects are used
in invocation order, and only right before a call that needs them; and a configuration is pruned
when one with the same state, more calls placed and fewer unknown calls used was seen.
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Literal, NamedTuple, get_args

Kind = Literal["put", "delete", "get"]
Outcome = Literal["ok", "precondition_failed", "not_found", "unknown", "failed"]
Verdict = Literal["ok", "violation", "unknown"]
State = tuple[bytes | None, int, int]  # value (None: absent), its revision, last revision written
UNSEEN = -1  # the revision of an unknown PUT that nobody saw
HIDDEN = b"<unobserved>"  # the value of an unknown PUT that nobody read: it cannot matter


@dataclasses.dataclass(frozen=True, slots=True)
class Op:
    """One call. `value` is what a PUT wrote or an ok GET read; `revision` what an ok write
    returned or an ok GET read. `complete` is None exactly when the outcome is unknown; "failed"
    means the call surely had no effect (refused before it was proposed): it is ignored."""

    client: int | str
    kind: Kind
    key: str
    invoke: float
    complete: float | None
    outcome: Outcome
    value: bytes | None = None
    revision: int | None = None
    if_revision: int | None = None
    if_exists: bool = False
    create_only: bool = False

    def __post_init__(self) -> None:
        problem = _shape_problem(self)
        if problem:
            raise ValueError(f"{problem}: {self!r}")

    @property
    def acked_write(self) -> bool:
        return self.outcome == "ok" and self.kind != "get"

    def __str__(self) -> str:
        args = [repr(self.key)] + ([repr(self.value)] if self.kind == "put" else [])
        args += [f"if_revision={self.if_revision}"] if self.if_revision is not None else []
        args += [name for name in ("if_exists", "create_only") if getattr(self, name)]
        result: str = self.outcome
        if self.outcome == "ok":
            result = f"ok {self.value!r}@{self.revision}" if self.kind == "get" else "ok"
            result += "" if self.kind == "get" else f" @{self.revision}"
        end = "?" if self.complete is None else f"{self.complete:.6g}"
        call = f"{self.kind}({', '.join(args)})"
        return f"[{self.invoke:.6g}, {end}] client {self.client}: {call} -> {result}"


def _shape_problem(op: Op) -> str:
    if op.kind not in get_args(Kind) or op.outcome not in get_args(Outcome):
        return "kind or outcome misspelt"
    if (op.outcome == "unknown") != (op.complete is None):
        return "complete must be None exactly when the outcome is unknown"
    if op.complete is not None and op.complete < op.invoke:
        return "complete is before invoke"
    if (op.if_revision is not None) + op.if_exists + op.create_only > (op.kind != "get"):
        return "at most one precondition, and none on a get"
    if op.kind == "delete" and op.create_only:
        return "create_only is for put"
    if op.kind == "put" and not isinstance(op.value, bytes):
        return "a put needs a bytes value"
    if op.outcome == "ok" and not isinstance(op.revision, int):
        return "an ok call needs its revision"
    if op.outcome == "ok" and op.kind == "get" and not isinstance(op.value, bytes):
        return "an ok get needs the value read"
    return ""


class History:
    """Records calls as clients make them; fine for many asyncio tasks on one event loop.

    call = history.invoke(1, "put", "k", value=b"v") ... history.complete(call, "ok", revision=7)
    A call never completed (or completed as "unknown") has an unknown outcome.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ops: list[Op] = []
        self._completed: set[int] = set()

    def invoke(
        self,
        client: int | str,
        kind: Kind,
        key: str,
        *,
        value: bytes | None = None,
        if_revision: int | None = None,
        if_exists: bool = False,
        create_only: bool = False,
    ) -> int:
        """Record a call as it starts; returns the handle to complete it with."""
        call = Op(client, kind, key, self._clock(), None, "unknown", value, None, if_revision)
        self._ops.append(dataclasses.replace(call, if_exists=if_exists, create_only=create_only))
        return len(self._ops) - 1

    def complete(
        self,
        call: int,
        outcome: Outcome,
        *,
        value: bytes | None = None,
        revision: int | None = None,
    ) -> Op:
        """Record how a call ended: `value` is what a GET read, `revision` what it returned."""
        if call in self._completed:
            raise ValueError(f"call {call} was already completed: {self._ops[call]}")
        self._completed.add(call)
        op = self._ops[call]
        self._ops[call] = dataclasses.replace(
            op,
            complete=None if outcome == "unknown" else self._clock(),
            outcome=outcome,
            value=value if op.kind == "get" else op.value,
            revision=revision,
        )
        return self._ops[call]

    def ops(self) -> list[Op]:
        return list(self._ops)


@dataclasses.dataclass(frozen=True)
class Result:
    """Unless ok: `linearized` is the longest prefix of the key's history the search placed,
    `state` the register after it, and `unplaced` the completed calls none of which could come
    next (or the calls that conflict outright)."""

    verdict: Verdict
    key: str | None = None
    reason: str = ""
    linearized: tuple[Op, ...] = ()
    unplaced: tuple[Op, ...] = ()
    state: State | None = None
    steps: int = 0

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def __str__(self) -> str:
        if self.ok:
            return f"linearizable ({self.steps} search steps)"
        lines = [f"{self.verdict} on key {self.key!r}: {self.reason}"]
        if self.linearized:
            lines.append(f"the last of {len(self.linearized)} calls linearized:")
            lines += [f"  {op}" for op in self.linearized[-8:]]
        if self.state is not None:
            value, revision, last = self.state
            held = "absent" if value is None else f"{value!r}@{revision}"
            if revision == UNSEEN:
                held = "written by an unknown-outcome put, at a revision nobody saw"
            lines.append(f"the key then: {held} (last revision written {last})")
        if self.unplaced:
            lines.append("none of these could be linearized next:")
            lines += [f"  {op}" for op in self.unplaced]
        return "\n".join(lines)


def check(
    history: Iterable[Op], *, time_budget: float = 10.0, step_budget: int = 1_000_000
) -> Result:
    """Check a history key by key; a key's search gives up with "unknown" past either budget."""
    ops = [op for op in history if op.outcome != "failed"]
    ops = [op for op in ops if op.kind != "get" or op.outcome != "unknown"]
    problem = _store_problem(ops)
    if problem is not None:
        return problem
    returned = {op.revision for op in ops if op.acked_write}
    by_key: dict[str, list[Op]] = defaultdict(list)
    for op in ops:
        by_key[op.key].append(op)
    steps, undecided = 0, None
    for key in sorted(by_key):
        result = _key_problem(by_key[key], returned)
        if result is None:
            search = _Search(by_key[key], returned)
            result = search.run(time.monotonic() + time_budget, step_budget)
        steps += result.steps
        if result.verdict == "violation":
            return dataclasses.replace(result, steps=steps)
        undecided = undecided or (result if result.verdict == "unknown" else None)
    return dataclasses.replace(undecided or Result("ok"), steps=steps)


def _violation(reason: str, *ops: Op) -> Result:
    return Result("violation", ops[-1].key, reason, unplaced=ops)


def _after_writes(ops: Iterable[Op], writes: Iterable[Op]) -> Iterator[tuple[Op, int]]:
    """Each call in invocation order, with the highest revision written before it began."""
    ended = sorted(writes, key=lambda op: op.complete or 0.0)
    latest, count = 0, 0
    for op in sorted(ops, key=lambda op: op.invoke):
        while count < len(ended) and (ended[count].complete or 0.0) < op.invoke:
            latest, count = max(latest, ended[count].revision or 0), count + 1
        yield op, latest


def _store_problem(ops: list[Op]) -> Result | None:
    """Store-wide: revisions are unique, grow in real time, and a read's revision names its put."""
    writes: dict[int | None, Op] = {}
    for op in filter(lambda op: op.acked_write, ops):
        first = writes.setdefault(op.revision, op)
        if first is not op:
            return _violation(f"two writes returned revision {op.revision}", first, op)
    for op, latest in _after_writes(writes.values(), writes.values()):
        if latest >= (op.revision or 0):
            reason = "a write got a lower revision than one that ended before it began"
            return _violation(reason, writes[latest], op)
    for op in ops:
        writer = writes.get(op.revision) if op.kind == "get" and op.outcome == "ok" else None
        if writer and (writer.kind, writer.key, writer.value) != ("put", op.key, op.value):
            return _violation("a read of a value never written at that revision", writer, op)
    return None


def _key_problem(ops: list[Op], returned: set[int | None]) -> Result | None:
    """One key: a read must overlap or follow the write it saw and not follow a later one, a read
    of a revision nobody returned needs an unknown PUT of its value, and a conditional write must
    come right after the write it names."""
    writes = {op.revision: op for op in ops if op.acked_write}
    unknown_puts = [op for op in ops if op.kind == "put" and op.outcome == "unknown"]
    seen: dict[int | None, bytes | None] = {}
    reads = [op for op in ops if op.kind == "get" and op.outcome == "ok"]
    for op, latest in _after_writes(reads, writes.values()):
        writer = writes.get(op.revision)
        if writer and (op.complete or 0.0) < writer.invoke:
            return _violation("a read of a value written only after the read ended", op, writer)
        if writer and latest > (op.revision or 0):
            return _violation(
                "a stale read: a later write ended before it began", writes[latest], op
            )
        if op.revision in returned:
            continue
        if seen.setdefault(op.revision, op.value) != op.value:
            return _violation(f"two values read at revision {op.revision}", op)
        if not any(
            put.value == op.value and put.invoke <= (op.complete or 0.0) for put in unknown_puts
        ):
            return _violation("a read of a value never written", op)
    previous: Op | None = None
    for op in sorted(writes.values(), key=lambda op: op.revision or 0):
        named = (
            previous is not None and previous.kind == "put" and previous.revision == op.if_revision
        )
        if op.if_revision in returned and not named:
            reason = f"a write conditional on revision {op.if_revision} did not follow it"
            return _violation(reason, *filter(None, [previous]), op)
        previous = op
    return None


class _Orphans(NamedTuple):
    """Revisions seen but never returned: only unknown PUTs can have written them."""

    read: dict[bytes | None, list[int]]  # value read -> revisions it was read at
    unread: list[int]  # seen only by if_revision preconditions: the value cannot matter

    @classmethod
    def of(cls, ops: list[Op], returned: set[int | None]) -> _Orphans:
        read: dict[int, bytes | None] = {}
        for op in ops:
            if op.kind == "get" and op.outcome == "ok" and op.revision not in returned:
                read[op.revision or 0] = op.value
        conditions = {op.if_revision for op in ops if op.outcome != "precondition_failed"}
        orphans = cls(defaultdict(list), sorted(conditions - returned - read.keys() - {None}))
        for revision, value in sorted(read.items()):
            orphans.read[value].append(revision)
        return orphans


def _holds(op: Op, value: bytes | None, revision: int) -> bool:
    if op.if_revision is not None:
        return value is not None and revision == op.if_revision
    if op.if_exists:
        return value is not None
    return value is None if op.create_only else True


def _step(op: Op, state: State, orphans: _Orphans) -> list[State]:
    """The states `op` may lead to from `state`; empty if it cannot be linearized there."""
    value, revision, last = state
    holds = _holds(op, value, revision)
    if op.outcome == "ok" and op.kind == "get":
        return [state] if (value, revision) == (op.value, op.revision) else []
    if op.outcome == "ok":
        new = op.revision or 0
        if not holds or new <= last or (op.kind == "delete" and value is None):
            return []
        return [(op.value, new, new) if op.kind == "put" else (None, 0, new)]
    if op.outcome == "precondition_failed":
        return [] if holds else [state]
    if op.outcome == "not_found":
        fails_when_absent = op.kind != "put" or op.if_exists or op.if_revision is not None
        return [state] if value is None and fails_when_absent else []
    if not holds:  # an unknown outcome: the call may take effect here (or never)
        return []
    if op.kind == "delete":
        return [(None, 0, last)] if value is not None else []
    claims = [(op.value, r, r) for r in orphans.read.get(op.value, ()) if r > last]
    claims += [(HIDDEN, r, r) for r in orphans.unread if r > last]
    return [*claims, (HIDDEN, UNSEEN, last)]


def _covers(better: tuple[int, int, int], worse: tuple[int, int, int]) -> bool:
    """Whether a configuration placed every completed call the other did and used no unknown call
    the other did not. Each is (low, bits, used): the completed calls numbered below `low`, and
    those in `bits` shifted by `low`, are placed; `used` are the unknown calls applied."""
    (low, bits, used), (other_low, other_bits, other_used) = better, worse
    if low < other_low or used & other_used != used:
        return False
    shift = low - other_low
    return ((bits << shift) | ((1 << shift) - 1)) & other_bits == other_bits


class _Frame(NamedTuple):
    op: int
    candidate: int  # which candidate the call was, and which of its moves was taken
    move: int
    before: State
    candidates: list[int]  # the candidates before the call was placed
    after: State
    forced: bool  # a call that leaves the state alone, placed as soon as it fit: no alternatives


class _Search:
    """Depth-first search over one key's calls. Completed calls sit in a dancing-links list of
    call and return events; the candidates to place next are the calls before its first return,
    then, of each group of unknown calls with the same effects, the next one invoked by then."""

    def __init__(self, ops: list[Op], returned: set[int | None]) -> None:
        self.ops = sorted(ops, key=lambda op: op.invoke)
        self.orphans = _Orphans.of(ops, returned)
        self.required = [op.complete is not None for op in self.ops]
        completed = [i for i, done in enumerate(self.required) if done]
        unknown = [i for i, done in enumerate(self.required) if not done]
        self.bit = [0] * len(self.ops)  # completed and unknown calls are numbered apart
        for numbered in (completed, unknown):
            for number, i in enumerate(numbered):
                self.bit[i] = 1 << number
        self.rank = [-1] * len(self.ops)  # acked writes go in revision order
        acked = [i for i in completed if self.ops[i].acked_write]
        for rank, i in enumerate(sorted(acked, key=lambda i: self.ops[i].revision or 0)):
            self.rank[i] = rank
        groups: dict[tuple[object, ...], int] = {}
        self.group = [-1] * len(self.ops)
        for i in unknown:
            op = self.ops[i]
            effects = (op.kind, op.value if op.value in self.orphans.read else None)
            effects += (op.if_revision, op.if_exists, op.create_only)
            self.group[i] = groups.setdefault(effects, len(groups))
        self.groups = [[i for i in unknown if self.group[i] == g] for g in range(len(groups))]
        self.used = [0] * len(groups)
        events = sorted(
            [(self.ops[i].invoke, 0, i) for i in completed]
            + [(self.ops[i].complete or 0.0, 1, i) for i in completed]
        )  # a call and a return at the same instant overlap
        self.tail = len(events) + 1  # node 0 is the head
        self.next, self.prev = [*range(1, self.tail + 1), 0], [0, *range(self.tail)]
        self.node_op = [-1, *(i for _, _, i in events), -1]
        self.is_call = [False, *(kind == 0 for _, kind, _ in events), False]
        self.nodes: list[list[int]] = [[] for _ in self.ops]
        for node, (_, _, i) in enumerate(events, start=1):
            self.nodes[i].append(node)
        self.total = self.left = len(completed)
        self.placed = self.applied = self.writes_done = 0  # bit sets, and a count
        self.seen: dict[tuple[int, State], list[tuple[int, int, int]]] = {}
        self.state: State = (None, 0, 0)
        self.candidates = self._candidates()
        self.stack: list[_Frame] = []
        self.path: list[int] = []
        self.best: tuple[list[int], State, list[int]] = ([], self.state, self.candidates)

    def run(self, deadline: float, budget: int) -> Result:
        steps, arrived, position, move = 0, True, 0, 0
        while self.left:
            frame = self._next(arrived, position, move)
            if frame is not None:
                self._push(frame)
                steps += 1
                if steps > budget or (steps % 512 == 0 and time.monotonic() > deadline):
                    reason = f"budget exceeded after {steps} steps"
                    return self._result("unknown", reason, steps)
                arrived, position, move = True, 0, 0
                continue
            while self.stack and self.stack[-1].forced:
                self._pop()
            if not self.stack:
                return self._result("violation", "not linearizable", steps, ", then none fit")
            frame = self._pop()
            arrived, position, move = False, frame.candidate, frame.move + 1
        return Result("ok", steps=steps)

    def _next(self, arrived: bool, position: int, move: int) -> _Frame | None:
        """The next call to place: one that leaves the state alone, else the next untried move."""
        if arrived:
            for i in self.candidates:
                if self.required[i] and self.rank[i] < 0 and self._fits(i, self.state):
                    if not self._visit(i, self.state):
                        return None
                    return _Frame(i, 0, 0, self.state, self.candidates, self.state, True)
        blocked: list[int] | None = None  # the candidates that cannot go in this state
        while position < len(self.candidates):
            i = self.candidates[position]
            moves = _step(self.ops[i], self.state, self.orphans) if self._fits(i) else []
            while move < len(moves):
                after = moves[move]
                if blocked is None and not self.required[i]:
                    blocked = [j for j in self.candidates if not self._fits(j, self.state)]
                # an unknown call goes only right before a call that could not go without it
                if (self.required[i] or any(self._fits(j, after) for j in blocked or ())) and (
                    self._visit(i, after)
                ):
                    return _Frame(i, position, move, self.state, self.candidates, after, False)
                move += 1
            position, move = position + 1, 0
        return None

    def _fits(self, i: int, state: State | None = None) -> bool:
        """Whether call i may go next (in `state`, if given): acked writes go in revision order."""
        if self.rank[i] >= 0 and self.rank[i] != self.writes_done:
            return False
        return state is None or bool(_step(self.ops[i], state, self.orphans))

    def _visit(self, i: int, after: State) -> bool:
        """Remember a configuration; False if one that covers it had the same acked writes and
        state. (Reads and failures can be dropped from a linearization, and it stays one.)"""
        placed = self.placed | (self.bit[i] if self.required[i] else 0)
        applied = self.applied | (0 if self.required[i] else self.bit[i])
        low = (placed ^ (placed + 1)).bit_length() - 1  # every completed call below is placed
        new = (low, placed >> low, applied)
        seen = self.seen.setdefault((self.writes_done + (self.rank[i] >= 0), after), [])
        if any(_covers(old, new) for old in seen):
            return False
        seen[:] = [old for old in seen if not _covers(new, old)]
        seen.append(new)
        return True

    def _push(self, frame: _Frame) -> None:
        self.stack.append(frame)
        self.path.append(frame.op)
        self._toggle(frame.op, +1)
        for node in self.nodes[frame.op]:
            self.next[self.prev[node]] = self.next[node]
            self.prev[self.next[node]] = self.prev[node]
        self.state = frame.after
        self.candidates = self._candidates()
        if self.total - self.left > len(self.best[0]):
            self.best = (list(self.path), self.state, self.candidates)

    def _pop(self) -> _Frame:
        frame = self.stack.pop()
        self.path.pop()
        self._toggle(frame.op, -1)
        for node in reversed(self.nodes[frame.op]):
            self.next[self.prev[node]] = node
            self.prev[self.next[node]] = node
        self.state, self.candidates = frame.before, frame.candidates
        return frame

    def _toggle(self, i: int, placed: int) -> None:
        if self.required[i]:
            self.placed ^= self.bit[i]
            self.left -= placed
        else:
            self.applied ^= self.bit[i]
            self.used[self.group[i]] += placed
        self.writes_done += placed if self.rank[i] >= 0 else 0

    def _candidates(self) -> list[int]:
        candidates, node = [], self.next[0]
        while self.is_call[node]:
            candidates.append(self.node_op[node])
            node = self.next[node]
        if node == self.tail:  # every completed call is placed
            return candidates
        horizon = self.ops[self.node_op[node]].complete or 0.0
        for members, used in zip(self.groups, self.used, strict=True):
            if used < len(members) and self.ops[members[used]].invoke <= horizon:
                candidates.append(members[used])
        return candidates

    def _result(self, verdict: Verdict, reason: str, steps: int, then: str = "") -> Result:
        path, state, candidates = self.best
        placed = sum(self.required[i] for i in path)
        return Result(
            verdict,
            self.ops[0].key,
            f"{reason}: at most {placed} of {self.total} completed calls placed{then}",
            linearized=tuple(self.ops[i] for i in path),
            unplaced=tuple(self.ops[i] for i in candidates if self.required[i]),
            state=state,
            steps=steps,
        )
