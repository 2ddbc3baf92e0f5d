"""Several machines over NATS JetStream (``[bus] url``): the hub publishes each batch
it accepts, enrichment workers take them from a work queue, one store writer commits
the enriched stream, and every hub serves its walls from that stream.

- ``wire``: what goes on the bus (batches, incident changes) and the names of the
  streams, subjects, consumers and buckets;
- ``connection``: connecting with the site's credentials, and the streams' setup;
- ``worker``: ``groundcontrol worker``, enrichment as a work-queue consumer;
- ``storage``: ``groundcontrol store-writer``, the one durable consumer that writes
  the store;
- ``hub``: a hub's side: publish what it accepts, fold the enriched stream into its
  windows (the last hour replayed at start), share incidents, and the detector's
  leadership (a lease in a key-value bucket).

Without ``[bus]`` nothing here is imported.
"""
