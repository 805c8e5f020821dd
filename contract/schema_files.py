"""JSON Schema files generated from the payload models into `docs/schema/`.

Run `python -m contract.schema_files` after changing a model; a test fails while the
files on disk differ from what the models generate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from contract.models import ALL_MODELS
from contract.payloads import Payload

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "docs" / "schema"


def schema_file_name(model: type[Payload]) -> str:
    """`access/1` is written to `access.v1.json`."""
    kind, version = model.SCHEMA.split("/")
    return f"{kind}.v{version}.json"


def render(model: type[Payload]) -> str:
    """The JSON Schema of one payload model, as the text written to disk."""
    schema: dict[str, Any] = model.model_json_schema(by_alias=True, mode="serialization")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"yizhan:{model.SCHEMA}",
        **schema,
    }
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def expected_files() -> dict[str, str]:
    """File name → content for every payload model."""
    return {schema_file_name(model): render(model) for model in ALL_MODELS}


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema file, removing stale ones; return what was written."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = expected_files()
    for old in directory.glob("*.json"):
        if old.name not in wanted:
            old.unlink()
    written = []
    for name, text in wanted.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write():
        sys.stdout.write(f"wrote {path}\n")
