"""Pure builders: a Cluster (plus a few decided values) in, Kubernetes objects as dicts out.

No I/O, no clock, no randomness: the generated secret value and the bootstrap member list are
passed in, so every builder is a deterministic function tested with plain asserts.
"""
