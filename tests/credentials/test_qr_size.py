"""The size claim in `contract.tokens`, checked with a real QR encoder."""

from __future__ import annotations

import pytest

from contract.tokens import QR_ERROR_LEVEL, QR_VERSION, TOKEN_CHARS, Scope, issue_token
from tests.credentials.support import KEY_A, NOON_SHANGHAI

try:
    import segno
except ImportError as missing:  # fail loudly, never skip: the size claim must be checked
    raise ImportError("the QR size test needs segno: pip install segno") from missing


def worst_case_token() -> str:
    return issue_token(
        KEY_A,
        worker_number=0xFFFF_FFFF,
        not_before=NOON_SHANGHAI,
        lifetime_s=255,
        scope=Scope.station((1 << 22) - 1),
        group=255,
    )


def test_a_token_fits_qr_version_5_at_level_m_in_alphanumeric_mode() -> None:
    text = worst_case_token()
    symbol = segno.make(text, error=QR_ERROR_LEVEL.lower(), boost_error=False, micro=False)
    assert (symbol.version, symbol.error, symbol.mode) == (QR_VERSION, "M", "alphanumeric")
    assert len(text) == TOKEN_CHARS == 121


def test_version_4_at_level_m_is_too_small_so_5_m_is_the_smallest() -> None:
    with pytest.raises(segno.DataOverflowError):
        segno.make(worst_case_token(), error="m", version=4, boost_error=False)
