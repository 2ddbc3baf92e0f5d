"""The ``groundcontrol`` command: one module per command group. The only layer that
composes a hub with the feeds it hosts."""
