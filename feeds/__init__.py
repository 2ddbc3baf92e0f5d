"""Feed adapters: pure parse functions plus thin async loops, one module per source."""
