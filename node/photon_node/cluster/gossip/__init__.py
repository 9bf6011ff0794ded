"""SWIM-style gossip membership on the peer port (UDP): failure detection by direct and indirect
probes with suspicion, dead/left states, and anti-entropy of node metadata. See DESIGN.md.

core.py is the pure protocol (no I/O, no clock); service.py runs it on an authenticated socket.
"""

from photon_node.cluster.gossip.codec import CodecError
from photon_node.cluster.gossip.core import GossipCore, GossipTimings, Outbound
from photon_node.cluster.gossip.model import Member, MemberMeta, MemberState, MemberUpdate
from photon_node.cluster.gossip.service import GossipService

__all__ = [
    "CodecError",
    "GossipCore",
    "GossipService",
    "GossipTimings",
    "Member",
    "MemberMeta",
    "MemberState",
    "MemberUpdate",
    "Outbound",
]
