"""Spec parsing, operation round-trips, versions and skew, operator settings."""

import pytest

from photon_common import contract
from photon_operator.model import operation, versions
from photon_operator.model.settings import Settings, SettingsError
from photon_operator.model.spec import parse_cluster

from .sim import REPO, body


def test_defaults():
    c = parse_cluster(body(), default_repository=REPO)
    assert c.image == f"{REPO}:{contract.VERSION}"
    assert c.role("data").replicas == 3 and c.role("observer").replicas == 0
    assert c.upgrade.on_gate_failure == "Pause" and c.upgrade.max_unavailable == 1


def test_gate_description():
    c = parse_cluster(
        body(
            upgrade={
                "gates": [{"metric": "m", "labels": {"a": "b"}, "comparison": "<", "threshold": 1}]
            }
        ),
        default_repository=REPO,
    )
    assert c.upgrade.gates[0].describe() == 'max(value(m{a="b"})) < 1'


def test_operation_round_trip():
    op = operation.ScaleIn(role="data", source=5, target=3, started="2026-01-01T00:00:00Z",
                           victim="db-data-4", removed=("x",))  # fmt: skip
    raw = op.to_dict()
    assert raw["type"] == "ScaleIn" and raw["removed"] == ["x"] and "drainStarted" not in raw
    assert operation.load(raw) == op
    assert operation.load(None) is None and operation.load({"type": "Nope"}) is None


def test_timestamps():
    assert operation.epoch(operation.iso(1_000_000.0)) == 1_000_000.0


@pytest.mark.parametrize(("current", "target", "effective", "refused"), [
    ("0.1.0", "0.1.0", 2, False),
    ("0.1.0", "0.2.0", 2, False),
    ("0.3.0", "0.1.0", 2, True),   # more than one minor back
    ("0.1.0", "1.0.0", 2, True),   # major change
    ("0.2.0", "0.1.0", 3, True),   # known release that cannot speak protocol 3
    ("0.1.0", "nonsense", 2, True),
])  # fmt: skip
def test_skew(current, target, effective, refused):
    assert (versions.skew_problem(current, target, effective) is not None) is refused


def test_version_order():
    assert versions.Version.parse("1.0.0-rc.1") < versions.Version.parse("1.0.0")
    assert str(versions.Version.parse("1.2.3-rc.1")) == "1.2.3-rc.1"


def test_settings():
    s = Settings.from_env(
        {"PHOTON_OPERATOR_NAMESPACES": "b, a,", "PHOTON_OPERATOR_NODE_ACCESS": "proxy"}
    )
    assert s.namespaces == ("a", "b") and s.node_access == "proxy" and s.resync_seconds == 30
    with pytest.raises(SettingsError, match="PHOTON_OPERATOR_RESYNC_SECONDS"):
        Settings.from_env({"PHOTON_OPERATOR_RESYNC_SECONDS": "-1"})
