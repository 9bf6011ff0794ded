"""The receiving side of a peer connection, once its hello is verified."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from photon_node.cluster.auth import AuthError, StreamSession
from photon_node.cluster.frames import LEN, MAX_FRAME

if TYPE_CHECKING:
    from photon_node.cluster.transport import PeerTransport

logger = logging.getLogger(__name__)


class Inbound(asyncio.Protocol):
    """An accepted peer connection after its hello: frames are opened and handed to `on_frame`
    from `data_received` itself, in the loop turn that read them (no reader task to wake)."""

    def __init__(
        self, owner: PeerTransport, peer: str, session: StreamSession, socket: asyncio.BaseTransport
    ) -> None:
        self._owner, self._peer, self._session, self._socket = owner, peer, session, socket
        self._chunks: list[bytes] = []  # the unparsed tail of the stream
        self._have = 0  # bytes in _chunks
        self._need = 0  # bytes _chunks must reach before a frame can be parsed again
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if self._need:  # a partial frame waits: gather without copying until it is complete
            self._chunks.append(data)
            self._have += len(data)
            if self._have < self._need:
                return
            data, self._chunks, self._have = b"".join(self._chunks), [], 0
        offset, head, on_frame = 0, LEN.size, self._owner.on_frame
        try:
            while True:
                if len(data) - offset < head:
                    self._need = head
                    break
                (size,) = LEN.unpack_from(data, offset)
                if size > MAX_FRAME:
                    raise AuthError("malformed", f"frame of {size} bytes exceeds the limit")
                end = offset + head + size
                if end > len(data):
                    self._need = head + size
                    break
                payload = self._session.open(data[offset + head : end])
                if not payload:
                    raise AuthError("malformed", "empty frame")
                offset = end
                on_frame(self._peer, payload[0], payload[1:])
        except AuthError as error:
            self._owner.on_reject(error.reason)
            logger.warning("rejected peer connection from %s: %s", self._peer, error)
            self._socket.close()
            return
        if offset == len(data):
            self._need = 0
        else:
            rest = data[offset:]
            self._chunks, self._have = [rest], len(rest)

    def eof_received(self) -> bool:
        return False  # close

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
