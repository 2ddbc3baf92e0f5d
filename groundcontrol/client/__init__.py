"""What talks to a hub: the stream client walls and scripts use, the ingest client
feeds use, and the feeds' disk spool."""
