"""The durable store: the SQLite schema and queries, the writer thread that commits
the hub's batches, and export."""
