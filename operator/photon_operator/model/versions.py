"""Semver-ish versions and the version-skew policy for upgrades.

A node release speaks the wire protocols MIN..MAX. A cluster runs the smallest MAX over its
members (its *effective* protocol). A target is acceptable when it keeps the major version and
moves at most one minor version (the policy the CRD also enforces), and, for the releases listed
in KNOWN_PROTOCOLS, when its protocol range contains the cluster's effective protocol. A release
we do not know is checked again once its first pod runs (rollout: ProtocolIncompatible).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from photon_common import contract

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")

# release -> (min protocol, max protocol) it speaks
KNOWN_PROTOCOLS: dict[str, tuple[int, int]] = {
    contract.VERSION: (contract.MIN_PROTOCOL_VERSION, contract.PROTOCOL_VERSION),
}


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: str = "~"  # "~" sorts after any pre-release tag: 1.0.0-rc.1 < 1.0.0

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION.fullmatch(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a version (expected MAJOR.MINOR.PATCH[-PRE])")
        major, minor, patch, pre = match.groups()
        return cls(int(major), int(minor), int(patch), pre or "~")

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}.{self.patch}"
        return base if self.pre == "~" else f"{base}-{self.pre}"


def skew_problem(current: str, target: str, effective_protocol: int | None) -> str | None:
    """Why moving a cluster running `current` to `target` is refused, or None if it is allowed."""
    try:
        old, new = Version.parse(current), Version.parse(target)
    except ValueError as error:
        return str(error)
    if new.major != old.major:
        return f"{current} -> {target} changes the major version; upgrade through a bridge release"
    if abs(new.minor - old.minor) > 1:
        return f"{current} -> {target} skips a minor version; move one minor version at a time"
    known = KNOWN_PROTOCOLS.get(str(new))
    if known is not None and effective_protocol is not None:
        low, high = known
        if not low <= effective_protocol <= high:
            return (
                f"{target} speaks protocols {low}..{high} but the cluster runs protocol "
                f"{effective_protocol}"
            )
    return None
