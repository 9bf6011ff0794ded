"""Our Raft: a pure, deterministic core (core.py) driven by an asyncio driver (driver.py)."""
