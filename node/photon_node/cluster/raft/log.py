"""The in-memory view of one Raft log: a snapshot point followed by entries, with the
membership configuration history over it. Persistence is the driver's job; this object tracks
which suffix is not yet persisted (`stable`) and what is committed and applied."""

from __future__ import annotations

from photon_node.core.rafttypes import Config, Entry, EntryKind, SnapshotMeta


class RaftLog:
    def __init__(
        self, snapshot: SnapshotMeta, entries: list[Entry], commit: int, applied: int
    ) -> None:
        self.snap_index = snapshot.index
        self.snap_term = snapshot.term
        self.entries = list(entries)
        self.stable = self.last_index  # everything handed to us at load is on disk
        # Applied entries were committed, even if the commit index on disk lags (it is
        # written without an fsync when nothing else changed).
        self.applied = max(applied, snapshot.index)
        self.committed = max(commit, self.applied)
        # (index, config): the snapshot's config, then every CONFIG entry in the log
        self.configs: list[tuple[int, Config]] = [(snapshot.index, snapshot.config)]
        for entry in self.entries:
            if entry.kind is EntryKind.CONFIG:
                self.configs.append((entry.index, Config.decode(entry.data)))

    # -- queries -------------------------------------------------------------------------------
    @property
    def first_index(self) -> int:
        return self.snap_index + 1

    @property
    def last_index(self) -> int:
        return self.snap_index + len(self.entries)

    @property
    def last_term(self) -> int:
        return self.entries[-1].term if self.entries else self.snap_term

    def term(self, index: int) -> int | None:
        """Term of the entry at index; None if compacted away or beyond the end."""
        if index == self.snap_index:
            return self.snap_term
        if index < self.snap_index or index > self.last_index:
            return None
        return self.entries[index - self.snap_index - 1].term

    def matches(self, index: int, term: int) -> bool:
        return self.term(index) == term

    def entry(self, index: int) -> Entry:
        return self.entries[index - self.snap_index - 1]

    def slice(self, low: int, high: int, max_bytes: int) -> list[Entry]:
        """Entries [low, high), at least one, at most about max_bytes of data."""
        out: list[Entry] = []
        size = 0
        for index in range(max(low, self.first_index), min(high, self.last_index + 1)):
            entry = self.entry(index)
            if out and size + len(entry.data) > max_bytes:
                break
            out.append(entry)
            size += len(entry.data) + 24
        return out

    def up_to_date(self, last_index: int, last_term: int) -> bool:
        """Is a log ending at (last_index, last_term) at least as up to date as ours? (§5.4.1)"""
        return last_term > self.last_term or (
            last_term == self.last_term and last_index >= self.last_index
        )

    @property
    def config(self) -> Config:
        return self.configs[-1][1]

    @property
    def config_index(self) -> int:
        return self.configs[-1][0]

    def config_at(self, index: int) -> Config:
        config = self.configs[0][1]
        for at, candidate in self.configs:
            if at <= index:
                config = candidate
        return config

    def unstable(self) -> list[Entry]:
        return self.entries[self.stable - self.snap_index :]

    def to_apply(self) -> list[Entry]:
        high = min(self.committed, self.last_index)
        if high <= self.applied:
            return []
        return self.entries[self.applied - self.snap_index : high - self.snap_index]

    # -- changes -------------------------------------------------------------------------------
    def append(self, entries: list[Entry]) -> None:
        """Append after the last entry (leader side)."""
        for entry in entries:
            assert entry.index == self.last_index + 1
            self.entries.append(entry)
            if entry.kind is EntryKind.CONFIG:
                self.configs.append((entry.index, Config.decode(entry.data)))

    def merge(self, prev_index: int, entries: tuple[Entry, ...]) -> int:
        """Follower side: entries follow prev_index (already matched). Drop any conflicting
        suffix, append what is new; return the index of the last entry now known to match."""
        for position, entry in enumerate(entries):
            existing = self.term(entry.index)
            if existing == entry.term:
                continue
            if entry.index <= self.committed:
                raise AssertionError(f"conflict at committed index {entry.index}")
            self._truncate_from(entry.index)
            self.append(list(entries[position:]))
            break
        return prev_index + len(entries)

    def _truncate_from(self, index: int) -> None:
        if index <= self.last_index:
            del self.entries[index - self.snap_index - 1 :]
            self.stable = min(self.stable, index - 1)
            self.configs = [
                (at, c) for at, c in self.configs if at < index or at == self.snap_index
            ]

    def commit_to(self, index: int) -> bool:
        index = min(index, self.last_index)
        if index > self.committed:
            self.committed = index
            return True
        return False

    def restore(self, snapshot: SnapshotMeta) -> None:
        """Replace everything with the snapshot point (follower installing a snapshot)."""
        self.snap_index = snapshot.index
        self.snap_term = snapshot.term
        self.entries = []
        self.stable = snapshot.index
        self.committed = snapshot.index
        self.applied = snapshot.index
        self.configs = [(snapshot.index, snapshot.config)]

    def compact(self, index: int) -> None:
        """Forget entries up to index (they are in the state machine's durable state)."""
        if index <= self.snap_index:
            return
        assert index <= self.applied and index <= self.stable
        term = self.term(index)
        assert term is not None
        keep_config = self.config_at(index)
        del self.entries[: index - self.snap_index]
        self.snap_index, self.snap_term = index, term
        self.configs = [(index, keep_config)] + [(at, c) for at, c in self.configs if at > index]
