"""Ports, paths, headers, labels, API group and condition types shared by every PhotonDB component.

Anything two components must agree on lives here and nowhere else: the node serves these paths,
the client and the operator call them, the chart's probes point at them.
"""

from __future__ import annotations

# -- software identity -------------------------------------------------------------------------
VERSION = "0.1.0"
# Wire/API protocol spoken between nodes and by the operator. A node speaks every version from
# MIN_PROTOCOL_VERSION to PROTOCOL_VERSION; a cluster runs the minimum over its members.
PROTOCOL_VERSION = 2
MIN_PROTOCOL_VERSION = 1
# Features that need every member to speak at least this protocol before they are used.
FEATURE_PROTOCOL = {"if_match_any": 2}  # `If-Match: *` (a new precondition kind in the log)
# On-disk data directory format written by this version, and the oldest one it can still open.
DATA_FORMAT_VERSION = 1
MIN_DATA_FORMAT_VERSION = 1

# -- ports -------------------------------------------------------------------------------------
CLIENT_PORT = 7700
PEER_PORT = 7701

# -- HTTP paths --------------------------------------------------------------------------------
KV_PREFIX = "/kv"
HEALTH_LIVE = "/health/live"
HEALTH_READY = "/health/ready"
HEALTH_STARTUP = "/health/startup"
METRICS_PATH = "/_metrics"
CLUSTER_STATUS = "/cluster/status"
ADMIN_DRAIN = "/admin/drain"
ADMIN_TRANSFER_LEADERSHIP = "/admin/transfer-leadership"

# -- HTTP headers ------------------------------------------------------------------------------
REVISION_HEADER = "X-Photon-Revision"
NODE_HEADER = "X-Photon-Node"
FORWARDED_HEADER = "X-Photon-Forwarded-By"

# -- limits ------------------------------------------------------------------------------------
MAX_KEY_BYTES = 1024
DEFAULT_MAX_VALUE_BYTES = 1024 * 1024
DEFAULT_SCAN_LIMIT = 100
MAX_SCAN_LIMIT = 1000

# -- Raft ---------------------------------------------------------------------------------------
DEFAULT_MAX_VOTERS = 5

# -- node roles and states ---------------------------------------------------------------------
ROLE_DATA = "data"
ROLE_OBSERVER = "observer"
ROLE_COORDINATOR = "coordinator"
ROLES = (ROLE_DATA, ROLE_OBSERVER, ROLE_COORDINATOR)

STATE_STARTING = "starting"
STATE_READY = "ready"
STATE_DRAINING = "draining"
STATE_DRAINED = "drained"
STATE_STOPPING = "stopping"

# -- Kubernetes API ----------------------------------------------------------------------------
API_GROUP = "photondb.io"
API_VERSION = "v1alpha1"
KIND_CLUSTER = "PhotonCluster"
KIND_NETWORK = "PyralogNetwork"

LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_ROLE = f"{API_GROUP}/role"
LABEL_CLUSTER = f"{API_GROUP}/cluster"

CONDITION_READY = "Ready"
CONDITION_PROGRESSING = "Progressing"
CONDITION_DEGRADED = "Degraded"
CONDITION_UPGRADING = "Upgrading"
CONDITION_SCALING = "Scaling"

# -- environment -------------------------------------------------------------------------------
ENV_PREFIX = "PHOTON_"
