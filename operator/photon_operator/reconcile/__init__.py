"""Reconcile phases: observe (async, read-only) -> plan (pure) -> act (async, writes).

`plan` decides everything from one immutable Observed snapshot and returns a Plan: objects to
apply, node calls, events and the complete new status. Long operations advance one step per pass.
"""
