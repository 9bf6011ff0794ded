"""Storage layer: the data directory and RocksDB (the only place rocksdict is imported)."""
