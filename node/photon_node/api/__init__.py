"""HTTP API layer (aiohttp): parses and validates requests, maps typed errors to HTTP."""
