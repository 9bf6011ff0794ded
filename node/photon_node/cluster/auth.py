"""Authentication of every peer frame with the cluster secret (HMAC-SHA256).

Two shapes, one key:
- Datagrams (gossip, UDP): `seal` prefixes a header (version, sender timestamp in ms, random
  64-bit nonce) and appends an HMAC over header and payload. `open` rejects unsigned or forged
  frames, frames older or newer than `window` seconds, and replays (nonces remembered for the
  window).
- Streams (Raft, TCP): both ends exchange random nonces in a signed hello; each direction then
  MACs every frame with a session key derived from both nonces and a strictly increasing
  sequence number, so a recorded frame or connection cannot be replayed into a new one.

Rejections raise AuthError with a short `reason` used as the metric label.
"""

from __future__ import annotations

import hmac
import os
import struct
import time
from collections import OrderedDict

AUTH_VERSION = 1
MAC_BYTES = 32
_DGRAM_HEAD = struct.Struct(">BQQ")  # version, timestamp ms, nonce
_SEQ = struct.Struct(">Q")


class AuthError(Exception):
    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason


def _mac(key: bytes, *parts: bytes) -> bytes:
    return hmac.digest(key, b"".join(parts), "sha256")  # one-shot: OpenSSL's fast path


class DatagramAuth:
    def __init__(
        self, secret: bytes, window: float = 30.0, clock=time.time, max_nonces: int = 200_000
    ) -> None:
        if not secret:
            raise ValueError("a cluster secret is required to authenticate peers")
        self._key = _mac(secret, b"photon-datagram-v1")
        self._window = window
        self._clock = clock
        self._seen: OrderedDict[int, float] = OrderedDict()
        self._max = max_nonces

    def seal(self, payload: bytes) -> bytes:
        nonce = int.from_bytes(os.urandom(8), "big")
        head = _DGRAM_HEAD.pack(AUTH_VERSION, int(self._clock() * 1000), nonce)
        return head + payload + _mac(self._key, head, payload)

    def open(self, frame: bytes) -> bytes:
        if len(frame) < _DGRAM_HEAD.size + MAC_BYTES:
            raise AuthError("malformed", "frame too short to carry a signature")
        head, payload, mac = (
            frame[: _DGRAM_HEAD.size],
            frame[_DGRAM_HEAD.size : -MAC_BYTES],
            frame[-MAC_BYTES:],
        )
        version, stamp_ms, nonce = _DGRAM_HEAD.unpack(head)
        if version != AUTH_VERSION:
            raise AuthError("unsigned", f"unknown frame auth version {version}")
        if not hmac.compare_digest(mac, _mac(self._key, head, payload)):
            raise AuthError("bad_mac", "frame signature does not verify (wrong cluster secret?)")
        now = self._clock()
        if abs(now - stamp_ms / 1000) > self._window:
            raise AuthError("stale", "frame timestamp outside the replay window")
        self._expire(now)
        if nonce in self._seen:
            raise AuthError("replayed", "frame nonce already seen")
        self._seen[nonce] = now
        return payload

    def _expire(self, now: float) -> None:
        while self._seen and (
            len(self._seen) >= self._max or next(iter(self._seen.values())) < now - self._window * 2
        ):
            self._seen.popitem(last=False)


class StreamSession:
    """Per-connection MACs for one direction pair, after a hello exchange of nonces."""

    def __init__(self, secret: bytes, initiator: bool, my_nonce: bytes, peer_nonce: bytes) -> None:
        base = _mac(secret, b"photon-stream-v1")
        first, second = (my_nonce, peer_nonce) if initiator else (peer_nonce, my_nonce)
        session = _mac(base, first, second)
        self._send_key = _mac(session, b"i2r" if initiator else b"r2i")
        self._recv_key = _mac(session, b"r2i" if initiator else b"i2r")
        self._send_seq = 0
        self._recv_seq = 0

    def seal(self, payload: bytes) -> bytes:
        self._send_seq += 1
        return payload + _mac(self._send_key, _SEQ.pack(self._send_seq), payload)

    def open(self, frame: bytes) -> bytes:
        if len(frame) < MAC_BYTES:
            raise AuthError("malformed", "frame too short to carry a signature")
        payload, mac = frame[:-MAC_BYTES], frame[-MAC_BYTES:]
        expected = _mac(self._recv_key, _SEQ.pack(self._recv_seq + 1), payload)
        if not hmac.compare_digest(mac, expected):
            raise AuthError("bad_mac", "stream frame signature or sequence does not verify")
        self._recv_seq += 1
        return payload


def hello_mac(secret: bytes, *parts: bytes) -> bytes:
    """MAC of a hello message: proves knowledge of the secret, bound to the fresh nonces."""
    return _mac(_mac(secret, b"photon-hello-v1"), *parts)


def new_nonce() -> bytes:
    return os.urandom(16)
