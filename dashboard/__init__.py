"""The central service: ingest, storage, occupancy, REST API and the operator pages."""
