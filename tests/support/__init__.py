"""Test helpers shared by every tier: real node processes, polling with deadlines."""
