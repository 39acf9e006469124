"""The timeline of rule changes: where a change read from a notice belongs (``place``), the
one way into the store (``ingest``) and the read models every face shows (``views``)."""
