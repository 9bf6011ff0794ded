"""GossipService: the pure GossipCore driven on the event loop, over a GossipEndpoint.

It owns the clocks (loop.time() for the core, the wall clock only for the starting incarnation),
the tick loop (woken at the core's next deadline, at least once per probe interval), the seed
loop (re-resolves the --join names and push-pulls with them while no other member is live, so a
headless Service that has no endpoints yet works later), and the logging of transitions.
Nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Callable, Sequence

from photon_node.cluster.gossip.core import GossipCore, GossipTimings, Outbound
from photon_node.cluster.gossip.endpoint import GossipEndpoint, join_addr, split_addr
from photon_node.cluster.gossip.model import LIVE, Member, MemberMeta, MemberState, Message

logger = logging.getLogger(__name__)

EventCallback = Callable[[str, MemberState | None, Member], None]
RejectCallback = Callable[[str], None]


class GossipService:
    def __init__(
        self,
        local: MemberMeta,
        *,
        secret: bytes,
        bind: tuple[str, int] | None = None,
        seeds: Sequence[str] = (),
        timings: GossipTimings | None = None,
        on_event: EventCallback | None = None,
        on_reject: RejectCallback | None = None,
        rejoin_interval: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        self._local = local
        self._endpoint = GossipEndpoint(secret, self._on_message, on_reject)
        self._bind = bind if bind is not None else split_addr(local.peer_addr)
        self._seeds = [split_addr(seed) for seed in seeds]  # validated now, resolved later
        self._timings = timings or GossipTimings()
        self._on_event = on_event
        self._rejoin_interval = rejoin_interval
        self._rng = rng or random.Random()
        self._core: GossipCore | None = None
        self._tasks: list[asyncio.Task] = []
        self._stopped = False

    # -- public API ---------------------------------------------------------------------------
    @property
    def local(self) -> MemberMeta:
        """Our metadata as advertised (after start(): the real port, the current version)."""
        return self._local

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port); after start(), the real port even if 0 was asked."""
        return self._bind

    def members(self) -> dict[str, Member]:
        """Every known member, this node included; empty before start()."""
        return self._core.members() if self._core else {}

    def update_local(self, meta: MemberMeta) -> None:
        if self._core is None:
            self._local = meta
            return
        self._core.update_local(meta)
        self._local = self._core.local
        self._publish_events()

    async def start(self) -> None:
        self._bind = await self._endpoint.open(self._bind)
        host, port = split_addr(self._local.peer_addr)
        if port == 0:  # "host:0" advertises the port the OS picked
            self._local = dataclasses.replace(self._local, peer_addr=join_addr(host, self._bind[1]))
        # A restarted process must outbid its previous incarnation: start from the wall clock
        # (and if that went backwards, the core learns its old record and outbids it anyway).
        self._core = GossipCore(
            self._local,
            self._rng,
            **dataclasses.asdict(self._timings),
            incarnation=int(time.time() * 1000),
        )
        logger.info(
            "gossip started node=%s bind=%s advertise=%s seeds=%d",
            self._local.node_id, join_addr(*self._bind), self._local.peer_addr, len(self._seeds),
        )  # fmt: skip
        self._tasks = [asyncio.create_task(self._drive(), name="gossip-tick")]
        if self._seeds:
            self._tasks.append(asyncio.create_task(self._join_while_alone(), name="gossip-join"))

    async def stop(self, leave: bool = True) -> None:
        """Stop the loops; with leave, first tell every live member this node LEFT. Idempotent."""
        if self._core is None or self._stopped:
            return
        self._stopped = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if leave and not self._core.left:
            self._dispatch(self._core.leave(asyncio.get_running_loop().time()))
            self._publish_events()
        await self._endpoint.close()
        logger.info("gossip stopped node=%s left=%s", self._local.node_id, leave)

    # -- loops --------------------------------------------------------------------------------
    async def _drive(self) -> None:
        loop, core = asyncio.get_running_loop(), self._core
        assert core is not None
        while True:
            now = loop.time()
            try:
                self._dispatch(core.tick(now))
            except Exception:
                logger.exception("gossip tick failed")
            self._publish_events()
            wake = min(core.next_deadline(), now + self._timings.probe_interval)
            await asyncio.sleep(max(wake - loop.time(), 0.001))

    async def _join_while_alone(self) -> None:
        loop, core = asyncio.get_running_loop(), self._core
        assert core is not None
        told = False
        while not core.left:
            if core.is_alone():
                addrs = await self._resolve_seeds()
                if addrs:
                    self._dispatch(core.join(addrs, loop.time()))
                    told = False
                elif not told:
                    logger.info(
                        "gossip seeds resolve to nothing yet; retrying every %.1fs",
                        self._rejoin_interval,
                    )
                    told = True
            await asyncio.sleep(self._rejoin_interval)

    async def _resolve_seeds(self) -> list[str]:
        lookups = (self._endpoint.lookup(host, port) for host, port in self._seeds)
        results = await asyncio.gather(*lookups, return_exceptions=True)
        addrs: list[str] = []
        for (host, _), result in zip(self._seeds, results, strict=True):
            if isinstance(result, Exception):  # OSError (gaierror), UnicodeError for odd names
                logger.debug("gossip seed %s does not resolve: %s", host, result)
            elif isinstance(result, BaseException):
                raise result
            else:
                addrs += result
        return list(dict.fromkeys(addrs))

    # -- messages and events ------------------------------------------------------------------
    def _on_message(self, src: str, message: Message) -> None:
        if self._core is not None:
            now = asyncio.get_running_loop().time()
            self._dispatch(self._core.receive(src, message, now))
            self._publish_events()

    def _dispatch(self, outbound: list[Outbound]) -> None:
        for item in outbound:
            self._endpoint.send(item.addr, item.message)

    def _publish_events(self) -> None:
        if self._core is None:
            return
        for node_id, old, member in self._core.drain_events():
            _log_event(self._local.node_id, node_id, old, member)
            if self._on_event is not None:
                try:
                    self._on_event(node_id, old, member)
                except Exception:
                    logger.exception("gossip on_event callback failed for %s", node_id)


def _log_event(me: str, node_id: str, old: MemberState | None, member: Member) -> None:
    state, inc = member.state, member.incarnation
    if node_id == me:
        if old is not None and old is not state and state is MemberState.ALIVE:
            logger.info("gossip refuted: this node was %s, incarnation now %d", old.value, inc)
        elif old is not state:
            logger.info("gossip: this node is now %s", state.value)
    elif old is None:
        logger.info("gossip member joined node=%s addr=%s state=%s",
                    node_id, member.meta.peer_addr, state.value)  # fmt: skip
    elif old is not state:
        again = " again" if state is MemberState.ALIVE and old not in LIVE else ""
        logger.info("gossip member %s%s node=%s (was %s, incarnation %d)",
                    state.value, again, node_id, old.value, inc)  # fmt: skip
    else:
        logger.debug("gossip member metadata node=%s meta_version=%d",
                     node_id, member.meta.meta_version)  # fmt: skip
