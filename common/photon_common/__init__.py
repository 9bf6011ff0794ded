"""Shared contract of PhotonDB: what the node, the client, the operator and the chart agree on."""
