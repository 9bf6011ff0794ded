"""Pure builders: names, identity env, probes, partition, retention, PDBs, PodMonitor."""

import pytest

from photon_common import contract
from photon_operator.model.spec import parse_cluster
from photon_operator.resources import config, meta, policy, services, statefulset
from photon_operator.resources.statefulset import Release

from .sim import REPO, body


def cluster(**spec):
    return parse_cluster(body(**spec), default_repository=REPO)


def sts(c=None, role="data", **kwargs):
    c = c or cluster()
    kwargs.setdefault("release", Release("0.1.0", "photondb/node:0.1.0"))
    kwargs.setdefault("replicas", 3)
    kwargs.setdefault("partition", 0)
    kwargs.setdefault(
        "bootstrap", statefulset.bootstrap_members(c, 3, 5) if role == "data" else None
    )
    return statefulset.statefulset(c, role, **kwargs)


def env(obj):
    return {e["name"]: e for e in obj["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_statefulset_identity_and_policy():
    obj = sts(partition=2)
    spec = obj["spec"]
    assert obj["metadata"]["name"] == "db-data"
    assert spec["serviceName"] == "db-peers"
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
    assert spec["selector"]["matchLabels"] == {
        "photondb.io/cluster": "db",
        "photondb.io/role": "data",
    }
    values = env(obj)
    assert values["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert values["PHOTON_NODE_ID"]["value"] == "$(POD_NAME)"
    assert (
        values["PHOTON_ADVERTISE_PEER"]["value"] == "$(POD_NAME).db-peers.$(POD_NAMESPACE).svc:7701"
    )
    assert values["PHOTON_JOIN"]["value"] == "db-peers.$(POD_NAMESPACE).svc:7701"
    assert values["PHOTON_ROLE"]["value"] == "data"
    assert "PHOTON_CLUSTER_SECRET" not in values  # a mounted file, never an env value


def test_probes_and_metrics_annotations_use_the_contract():
    pod = sts()["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["startupProbe"]["httpGet"]["path"] == contract.HEALTH_STARTUP
    assert container["readinessProbe"]["httpGet"]["path"] == contract.HEALTH_READY
    assert container["livenessProbe"]["httpGet"]["path"] == contract.HEALTH_LIVE
    assert pod["metadata"]["annotations"]["prometheus.io/path"] == contract.METRICS_PATH
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "7700"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_bootstrap_only_for_data_and_only_the_first_voters():
    c = cluster()
    assert statefulset.bootstrap_members(c, 3, 5).count("=") == 3
    assert statefulset.bootstrap_members(c, 2, 5).count("=") == 1
    assert statefulset.bootstrap_members(c, 9, 5).count("=") == 5
    data, observer = sts(c), sts(c, "observer")
    assert data["spec"]["template"]["spec"]["containers"][0]["command"][0] == "/bin/sh"
    assert meta.BOOTSTRAP_ENV in env(data)
    assert observer["spec"]["template"]["spec"]["containers"][0]["command"] == ["photon-node"]
    assert meta.BOOTSTRAP_ENV not in env(observer)


def test_template_hash_changes_with_release_and_config_only():
    c = cluster()
    base = sts(c)["metadata"]["annotations"][meta.ANN_TEMPLATE_HASH]
    same = sts(c, replicas=5, partition=3)["metadata"]["annotations"][meta.ANN_TEMPLATE_HASH]
    new = sts(c, release=Release("0.2.0", "x:0.2.0"))["metadata"]["annotations"]
    configured = sts(cluster(config={"max_value_bytes": 10}))["metadata"]["annotations"]
    assert base == same
    assert new[meta.ANN_TEMPLATE_HASH] != base and new[meta.ANN_VERSION] == "0.2.0"
    assert configured[meta.ANN_TEMPLATE_HASH] != base


def test_storage_retention_and_scheduling():
    c = cluster(
        pvcRetention={"whenScaled": "Delete"},
        data={
            "storage": {"size": "5Gi", "storageClassName": "fast"},
            "scheduling": {"priorityClassName": "high", "tolerations": [{"key": "k"}]},
        },
    )
    spec = sts(c)["spec"]
    claim = spec["volumeClaimTemplates"][0]["spec"]
    assert claim["resources"]["requests"]["storage"] == "5Gi"
    assert claim["storageClassName"] == "fast"
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenScaled": "Delete",
        "whenDeleted": "Retain",
    }
    pod = spec["template"]["spec"]
    assert pod["priorityClassName"] == "high"
    assert pod["tolerations"] == [{"key": "k"}]
    assert "podAntiAffinity" in pod["affinity"]  # the soft default


def test_services():
    c = cluster()
    peers, client = services.peer_service(c), services.client_service(c)
    assert peers["spec"]["clusterIP"] == "None"
    assert peers["spec"]["publishNotReadyAddresses"] is True
    assert {p["port"] for p in peers["spec"]["ports"]} == {7700, 7701}
    assert client["metadata"]["name"] == "db"
    assert [p["port"] for p in client["spec"]["ports"]] == [7700]


def test_secret_and_config():
    c = cluster(config={"max_value_bytes": 2048, "log-format": "json"})
    secret = config.secret(c, "v" * 32)
    assert set(secret["data"]) == {meta.SECRET_KEY}
    text = config.config_map(c)["data"][meta.CONFIG_KEY]
    assert "max_value_bytes: 2048" in text and "log_format: json" in text


def test_reserved_options_are_refused():
    with pytest.raises(ValueError, match="initial_cluster"):
        cluster(config={"initial-cluster": "x"})


@pytest.mark.parametrize(("role", "replicas", "expected"), [
    ("data", 1, None), ("data", 2, None), ("data", 3, 1), ("observer", 1, None), ("observer", 2, 1),
])  # fmt: skip
def test_pdb(role, replicas, expected):
    budget = policy.pdb(cluster(), role, replicas)
    assert (budget and budget["spec"]["maxUnavailable"]) == expected


def test_pod_monitor():
    monitor = policy.pod_monitor(cluster(monitoring={"podMonitor": {"labels": {"r": "p"}}}))
    assert monitor["metadata"]["labels"]["r"] == "p"
    assert monitor["spec"]["podMetricsEndpoints"][0]["path"] == contract.METRICS_PATH
