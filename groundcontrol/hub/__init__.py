"""The hub: an aiohttp server that takes batches from feeds, enriches, stores and
aggregates them, and streams ticks and incidents to walls."""
