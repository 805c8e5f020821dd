"""Ingest: messages from the broker, validated and stored in batches by a writer process
(each batch one unit of work), then acknowledged; and the periodic checks, which apply
what time alone changes."""
