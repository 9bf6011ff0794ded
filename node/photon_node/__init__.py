"""PhotonDB storage node: HTTP API over a replicated RocksDB state machine."""

from photon_common.contract import PROTOCOL_VERSION, VERSION

__all__ = ["PROTOCOL_VERSION", "VERSION"]
