"""Signed tokens for gateway tests that need a grant but not a whole central.

The mint holds a real Ed25519 key and issues real tokens; a gateway trusts it once it has
the mint's `keys/1` payload (applied directly, or written to its state directory). The
payload's version is far above what any test central reaches, so keys a central of the
same test publishes never replace it.
"""

from __future__ import annotations

import base64
import itertools
from datetime import datetime

from contract.credential_payloads import PublicKeyEntry, PublicKeys
from contract.payloads import utc_now
from contract.tokens import ANY_STATION, Scope, SigningKey, issue_token

MINT_VERSION = 1_000_000


class TokenMint:
    """One signing key of the test's own and the tokens it signs."""

    def __init__(self, key_id: int = 200) -> None:
        self.key = SigningKey.generate(key_id)
        self._workers = itertools.count(1001)

    def keys(self) -> PublicKeys:
        """The `keys/1` payload that makes a gateway trust this mint."""
        public = base64.b64encode(self.key.public_key_bytes()).decode()
        return PublicKeys(
            version=MINT_VERSION,
            issued_at=utc_now(),
            keys=[PublicKeyEntry(key_id=self.key.key_id, public_key=public)],
        )

    def token(
        self,
        worker_number: int | None = None,
        *,
        not_before: datetime | None = None,
        scope: Scope = ANY_STATION,
    ) -> str:
        """A token valid now (60 s), for a new worker unless one is named."""
        return issue_token(
            self.key,
            worker_number=next(self._workers) if worker_number is None else worker_number,
            not_before=not_before or utc_now(),
            scope=scope,
        )
