"""Typed model: the PhotonCluster spec, operation state and versions as frozen dataclasses.

The lowest layer: it imports nothing of ours except the shared contract.
"""
