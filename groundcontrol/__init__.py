"""Ground Control: the core (model, protocol, hub, enrichment, analytics, CLI)."""

__version__ = "0.1.0"
