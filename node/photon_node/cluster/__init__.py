"""Cluster layer: how commands become durable and ordered (group commit now, Raft later)."""
