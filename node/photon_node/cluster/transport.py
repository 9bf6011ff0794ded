"""Authenticated TCP transport between nodes on the peer port (Raft messages, snapshot streams).

Each node sends over its own outbound connection to each peer and receives on connections the
peers opened. A connection starts with a signed hello exchange (node ids, fresh nonces, protocol
versions) and then carries length-prefixed frames MAC'd with a per-connection session key and
sequence number (auth.StreamSession). Frames to an unreachable peer are dropped, which Raft
tolerates; snapshot frames wait for space instead (a bounded number of frames and bytes).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from photon_node.cluster.auth import AuthError, StreamSession, hello_mac, new_nonce
from photon_node.cluster.frames import (
    HELLO_TIMEOUT,
    FrameType,
    Identity,
    compatible,
    read_frame,
    tune_socket,
    write_frame,
)
from photon_node.cluster.inbound import Inbound
from photon_node.cluster.outbound import Outbound

__all__ = ["FrameType", "Identity", "PeerTransport", "compatible"]

logger = logging.getLogger(__name__)


class PeerTransport:
    def __init__(
        self,
        identity: Identity,
        secret: bytes | None,
        resolve: Callable[[str], str | None],
        on_frame: Callable[[str, int, bytes], None],
        on_reject: Callable[[str], None] = lambda reason: None,
        on_unreachable: Callable[[str], None] = lambda peer: None,
    ) -> None:
        self.identity = identity
        self.secret = secret
        self.resolve = resolve
        self.on_frame = on_frame
        self.on_reject = on_reject
        self.on_unreachable = on_unreachable
        self.peer_protocols: dict[str, tuple[int, int]] = {}
        self._out: dict[str, Outbound] = {}
        self._server: asyncio.base_events.Server | None = None
        self._inbound: set[asyncio.Task] = set()

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, host, port, reuse_address=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for out in self._out.values():
            out.task.cancel()
        for task in list(self._inbound):
            task.cancel()
        tasks = [o.task for o in self._out.values()] + list(self._inbound)
        await asyncio.gather(*tasks, return_exceptions=True)
        self._out.clear()

    def send(self, peer: str, kind: int, body: bytes) -> bool:
        """Send a frame (written at the end of this loop turn with the others); False (and
        dropped) if too many frames wait for this peer or no secret is set."""
        if self.secret is None or peer == self.identity.node_id:
            return False
        out = self._out.get(peer) or self._out.setdefault(peer, Outbound(self, peer))
        return out.send(kind, body)

    def flush(self) -> None:
        """Write the frames sent so far now rather than at the end of this loop turn."""
        for out in self._out.values():
            out.flush()

    async def send_waiting(self, peer: str, kind: int, body: bytes) -> None:
        """Queue a frame, waiting for space (snapshot streams)."""
        if self.secret is None:
            raise ConnectionError("no cluster secret configured")
        out = self._out.get(peer) or self._out.setdefault(peer, Outbound(self, peer))
        await out.send_waiting(kind, body)

    def forget(self, peer: str) -> None:
        out = self._out.pop(peer, None)
        if out is not None:
            out.task.cancel()

    def connected(self, peer: str) -> bool:
        out = self._out.get(peer)
        return bool(out and out.connected)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._inbound.add(task)
        peer = "?"
        tune_socket(writer)
        try:
            session, peer = await asyncio.wait_for(
                self._answer_hello(reader, writer), HELLO_TIMEOUT
            )
            # From here on frames are read by Inbound.data_received in the turn that reads
            # them. The dialer waits for our answer before sending, so nothing is buffered.
            inbound = Inbound(self, peer, session, writer.transport)
            writer.transport.set_protocol(inbound)
            await inbound.closed
        except AuthError as error:
            self.on_reject(error.reason)
            logger.warning("rejected peer connection from %s: %s", peer, error)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError, KeyError):
            pass
        finally:
            self._inbound.discard(task)
            writer.close()

    async def _answer_hello(self, reader, writer) -> tuple[StreamSession, str]:
        frame = await read_frame(reader)
        if self.secret is None:
            raise AuthError("unsigned", "this node has no cluster secret; it accepts no peers")
        raw, mac = frame[:-32], frame[-32:]
        if hello_mac(self.secret, b"hello", raw) != mac:
            raise AuthError("bad_mac", "hello signature does not verify (wrong cluster secret?)")
        hello = json.loads(raw)
        me = self.identity
        peer_nonce = bytes.fromhex(hello["nonce"])
        nonce = new_nonce()
        body: dict = {"id": me.node_id, "nonce": nonce.hex(), "protocol": me.protocol,
                      "min_protocol": me.min_protocol}  # fmt: skip
        error = None
        if hello["to"] != me.node_id:
            error = f"this is node {me.node_id}, not {hello['to']}"
        elif not compatible(me.protocol, me.min_protocol, hello["protocol"], hello["min_protocol"]):
            error = (
                f"incompatible protocol: {hello['id']} speaks {hello['min_protocol']}-"
                f"{hello['protocol']}, this node {me.min_protocol}-{me.protocol}"
            )
        if error:
            body["error"] = error
        signed = json.dumps(body, sort_keys=True).encode()
        write_frame(writer, signed + hello_mac(self.secret, b"ack", peer_nonce, signed))
        await writer.drain()
        if error:
            raise AuthError("protocol" if "protocol" in error else "identity", error)
        self.peer_protocols[hello["id"]] = (hello["protocol"], hello["min_protocol"])
        return StreamSession(self.secret, False, nonce, peer_nonce), hello["id"]
