"""The Textual wall: one module per panel."""
