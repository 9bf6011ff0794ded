"""PhotonDB operator (import name `photon_operator`: the standard library owns `operator`).

Reconciles PhotonCluster and PyralogNetwork objects; layers, enforced by import-linter:
handlers (kopf) -> reconcile phases -> pure builders -> one Kubernetes API wrapper -> model.
"""
