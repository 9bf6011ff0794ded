"""The one client of the nodes' HTTP API (/cluster/status, /admin/*, /_metrics).

Only the public contract in photon_common.contract; reached by pod IP or through the API
server's pod proxy (useful when the operator runs outside the cluster).
"""
