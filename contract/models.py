"""Every payload model of wire contract v1 in one tuple: station topics and credentials."""

from __future__ import annotations

from contract.credential_payloads import CREDENTIAL_MODELS
from contract.maintenance_payloads import MAINTENANCE_MODELS
from contract.payloads import STATION_MODELS, Payload

ALL_MODELS: tuple[type[Payload], ...] = (*STATION_MODELS, *CREDENTIAL_MODELS, *MAINTENANCE_MODELS)
"""What `python -m contract.schema_files` writes a JSON Schema file for."""
