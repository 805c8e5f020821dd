"""Ingest: messages from the broker, validated and stored in batches by a writer process,
then acknowledged."""
