"""Operator key files: an operator's name and Ed25519 private key, readable by its owner only.

The file is JSON with the operator's `name` and the raw private key in base64. The central
signs its commands with one; `yizhan operator-key` makes them for maintainers.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class OperatorKey:
    """An operator's name and private signing key."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> str:
        """The public half in base64, as gateways list it."""
        return base64.b64encode(self.private_key.public_key().public_bytes_raw()).decode()

    def save(self, path: Path) -> None:
        """Write the key file, readable by its owner only."""
        raw = self.private_key.private_bytes_raw()
        document = {"name": self.name, "private_key": base64.b64encode(raw).decode()}
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(document, out)

    @classmethod
    def generate(cls, name: str) -> OperatorKey:
        """A fresh key for `name`."""
        if not _NAME.match(name):
            raise ValueError(f"operator name {name!r}: letters, digits, '.', '_' and '-' only")
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: Path) -> OperatorKey:
        """Read a key file; raises `ValueError` saying what is wrong with it."""
        try:
            document = json.loads(path.read_text("utf-8"))
            raw = base64.b64decode(document["private_key"], validate=True)
            return cls(str(document["name"]), Ed25519PrivateKey.from_private_bytes(raw))
        except OSError as exc:
            raise ValueError(f"cannot read operator key {path}: {exc.strerror}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not an operator key file: {exc}") from exc
