"""The gossip wire format: one version byte, one message-type byte, then compact UTF-8 JSON.

    [CODEC_VERSION][kind] {"seq":..,"src":..,...,"u":[member, member, ...]}

`encode` returns one or more payloads, each at most `limit` bytes (MAX_PAYLOAD leaves room for
DatagramAuth's header and MAC inside a 60 KiB datagram). A push-pull that does not fit is split
into several PushPulls, each a subset of the members (merging is per member, so parts stand
alone; only the first asks for a reply). Piggybacked updates that do not fit are dropped (push-pull
repairs them). A member record that cannot fit even alone loses its metrics snapshot first.

`decode` validates every field and raises CodecError (a ValueError) on anything malformed: it
never raises anything else, whatever the bytes.
"""

from __future__ import annotations

import json
import math
from typing import Any

from photon_node.cluster.gossip.model import (
    Ack,
    Leave,
    MemberMeta,
    MemberState,
    MemberUpdate,
    Message,
    Ping,
    PingReq,
    PushPull,
)

__all__ = ["CODEC_VERSION", "MAX_DATAGRAM", "MAX_PAYLOAD", "CodecError", "decode", "encode"]

CODEC_VERSION = 1
MAX_DATAGRAM = 60 * 1024
MAX_PAYLOAD = MAX_DATAGRAM - 64  # DatagramAuth adds a 17-byte header and a 32-byte MAC
_KINDS: dict[type, int] = {Ping: 1, Ack: 2, PingReq: 3, PushPull: 4, Leave: 5}
_MAX_TEXT = 1024
_MAX_ITEMS = 256
_MAX_U64 = (1 << 64) - 1


class CodecError(ValueError):
    """The bytes are not a gossip message this version understands."""


# -- encoding ----------------------------------------------------------------------------------
def encode(message: Message, limit: int = MAX_PAYLOAD) -> list[bytes]:
    kind = _KINDS[type(message)]
    is_push_pull = isinstance(message, PushPull)
    updates = message.states if is_push_pull else message.updates
    head = _head(message)
    prefix, suffix = _prefix(kind, head), b"]}"
    room = limit - len(prefix) - len(suffix)
    if room <= 0:
        raise ValueError(f"a {type(message).__name__} header alone exceeds {limit} bytes")
    parts: list[list[bytes]] = [[]]
    used = 0
    for update in updates:
        fragment = _fragment(update, room)
        if fragment is None:
            continue
        extra = len(fragment) + (1 if parts[-1] else 0)
        if used + extra > room:
            if not is_push_pull:
                continue  # piggyback: drop what does not fit, keep trying smaller ones
            parts.append([])
            used, extra = 0, len(fragment)
        parts[-1].append(fragment)
        used += extra
    payloads = [prefix + b",".join(parts[0]) + suffix]
    if len(parts) > 1:
        rest_prefix = _prefix(kind, {**head, "reply": False})
        payloads += [rest_prefix + b",".join(part) + suffix for part in parts[1:]]
    return payloads


def _head(message: Message) -> dict[str, Any]:
    if isinstance(message, Ping):
        return {"seq": message.seq, "src": message.source, "tgt": message.target}
    if isinstance(message, Ack):
        return {"seq": message.seq, "src": message.source}
    if isinstance(message, PingReq):
        return {
            "seq": message.seq,
            "src": message.source,
            "tgt": message.target,
            "ta": message.target_addr,
        }
    if isinstance(message, PushPull):
        return {"src": message.source, "reply": message.reply}
    return {"src": message.source}


def _prefix(kind: int, head: dict[str, Any]) -> bytes:
    text = _dumps(head)[:-1] + ',"u":['
    return bytes((CODEC_VERSION, kind)) + text.encode()


def _fragment(update: MemberUpdate, room: int) -> bytes | None:
    meta = update.meta
    for metrics in (meta.metrics, ()):
        data = _dumps(
            {
                "id": meta.node_id,
                "pa": meta.peer_addr,
                "ca": meta.client_addr,
                "ro": list(meta.roles),
                "v": meta.version,
                "p": meta.protocol,
                "mp": meta.min_protocol,
                "f": list(meta.features),
                "dr": meta.draining,
                "ok": meta.storage_ok,
                "m": [[name, value] for name, value in metrics if math.isfinite(value)],
                "mv": meta.meta_version,
                "s": update.state.value,
                "i": update.incarnation,
            }
        ).encode()
        if len(data) <= room:
            return data
    return None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# -- decoding ----------------------------------------------------------------------------------
def decode(data: bytes) -> Message:
    try:
        return _decode(bytes(data))
    except CodecError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as error:
        raise CodecError(f"malformed gossip message: {type(error).__name__}") from None


def _decode(data: bytes) -> Message:
    if len(data) < 2:
        raise CodecError("gossip message too short")
    if data[0] != CODEC_VERSION:
        raise CodecError(f"unsupported gossip codec version {data[0]}")
    body = json.loads(data[2:].decode("utf-8"), parse_constant=_no_constant)
    if not isinstance(body, dict):
        raise CodecError("gossip message body is not an object")
    kind, source = data[1], _text(body, "src")
    updates = _updates(body)
    if kind == 1:
        return Ping(_int(body, "seq", _MAX_U64), source, _text(body, "tgt"), updates)
    if kind == 2:
        return Ack(_int(body, "seq", _MAX_U64), source, updates)
    if kind == 3:
        seq, target, addr = _int(body, "seq", _MAX_U64), _text(body, "tgt"), _text(body, "ta")
        return PingReq(seq, source, target, addr, updates)
    if kind == 4:
        return PushPull(source, updates, reply=_bool(body, "reply"))
    if kind == 5:
        return Leave(source, updates)
    raise CodecError(f"unknown gossip message kind {kind}")


def _no_constant(name: str) -> Any:
    raise CodecError(f"{name} is not a number")


def _updates(body: dict[str, Any]) -> tuple[MemberUpdate, ...]:
    items = body.get("u")
    if not isinstance(items, list):
        raise CodecError("'u' must be a list")
    return tuple(_update(item) for item in items)


def _update(item: Any) -> MemberUpdate:
    if not isinstance(item, dict):
        raise CodecError("a member record must be an object")
    metrics = item.get("m")
    if not isinstance(metrics, list) or len(metrics) > _MAX_ITEMS:
        raise CodecError("'m' must be a list of [name, value] pairs")
    meta = MemberMeta(
        node_id=_text(item, "id", empty=False),
        peer_addr=_text(item, "pa", empty=False),
        client_addr=_text(item, "ca"),
        roles=_texts(item, "ro"),
        version=_text(item, "v"),
        protocol=_int(item, "p", 65535),
        min_protocol=_int(item, "mp", 65535),
        features=_texts(item, "f"),
        draining=_bool(item, "dr"),
        storage_ok=_bool(item, "ok"),
        metrics=tuple(_metric(pair) for pair in metrics),
        meta_version=_int(item, "mv", _MAX_U64),
    )
    state = item.get("s")
    if not isinstance(state, str):
        raise CodecError("'s' must be a state name")
    return MemberUpdate(meta, MemberState(state), _int(item, "i", _MAX_U64))


def _metric(pair: Any) -> tuple[str, float]:
    if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
        raise CodecError("a metric must be a [name, value] pair")
    value = pair[1]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CodecError(f"metric {pair[0][:40]!r} is not a finite number")
    if len(pair[0]) > _MAX_TEXT:
        raise CodecError("metric name too long")
    return pair[0], float(value)


def _text(obj: dict[str, Any], key: str, *, empty: bool = True) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or len(value) > _MAX_TEXT or (not empty and not value):
        raise CodecError(f"{key!r} must be a string of at most {_MAX_TEXT} characters")
    return value


def _texts(obj: dict[str, Any], key: str) -> tuple[str, ...]:
    values = obj.get(key)
    if not isinstance(values, list) or len(values) > _MAX_ITEMS:
        raise CodecError(f"{key!r} must be a list of at most {_MAX_ITEMS} strings")
    if not all(isinstance(v, str) and len(v) <= _MAX_TEXT for v in values):
        raise CodecError(f"{key!r} must hold strings")
    return tuple(values)


def _int(obj: dict[str, Any], key: str, high: int) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise CodecError(f"{key!r} must be an integer in 0..{high}")
    return value


def _bool(obj: dict[str, Any], key: str) -> bool:
    value = obj.get(key)
    if not isinstance(value, bool):
        raise CodecError(f"{key!r} must be true or false")
    return value
