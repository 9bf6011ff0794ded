"""Broadcasts: which member records still need to be piggybacked, and how often.

Each entry is a node id whose *current* record must be spread; a newer change of the same member
replaces the entry (and resets its count), so a stale record is never gossiped after a newer one.
Every piggyback takes the least-transmitted (then newest) entries first; an entry is dropped after
`limit` transmissions, limit = retransmit_mult * ceil(log10(n + 1)) for n known members: enough
for an epidemic to reach everyone with high probability, and push-pull repairs the rest.
"""

from __future__ import annotations

import math


def retransmit_limit(mult: int, members: int) -> int:
    return mult * max(1, math.ceil(math.log10(members + 1)))


class Broadcasts:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, int]] = {}  # node id -> (transmits, order)
        self._order = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, node_id: str) -> bool:
        return node_id in self._entries

    def push(self, node_id: str) -> None:
        self._order += 1
        self._entries[node_id] = (0, self._order)

    def discard(self, node_id: str) -> None:
        self._entries.pop(node_id, None)

    def take(self, count: int, limit: int, first: tuple[str, ...] = ()) -> list[str]:
        """Up to `count` node ids to piggyback, `first` ones ahead of the queue; counts each."""
        chosen = list(dict.fromkeys(first))[:count]
        if len(chosen) < count and self._entries:
            ranked = sorted(self._entries.items(), key=lambda item: (item[1][0], -item[1][1]))
            for node_id, _ in ranked:
                if len(chosen) >= count:
                    break
                if node_id not in chosen:
                    chosen.append(node_id)
        for node_id in chosen:
            entry = self._entries.get(node_id)
            if entry is None:
                continue
            if entry[0] + 1 >= limit:
                del self._entries[node_id]
            else:
                self._entries[node_id] = (entry[0] + 1, entry[1])
        return chosen
