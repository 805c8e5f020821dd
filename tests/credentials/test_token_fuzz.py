"""Whatever reaches the scanner, decoding answers with a token or a typed refusal."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from contract.payloads import Direction, Reason
from contract.tokens import (
    PREFIX,
    TOKEN_CHARS,
    Scope,
    TokenError,
    VerifiedToken,
    b45decode,
    b45encode,
    decode_token,
    issue_token,
    verify_token,
)
from gateway.access_rules import AccessRequest, AccessState, QrCredential, StationPolicy, TrustData
from gateway.access_rules import decide as decide_access
from tests.credentials.support import HERE, KEY_A, NOON_SHANGHAI, gateway_ring

B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
RING = gateway_ring(KEY_A)
GOOD = issue_token(KEY_A, worker_number=42, not_before=NOON_SHANGHAI)

# Inputs that get past the cheap length and prefix checks are the interesting ones.
token_shaped = st.text(alphabet=B45, min_size=TOKEN_CHARS - 4, max_size=TOKEN_CHARS - 4).map(
    lambda body: PREFIX + body
)
any_text = st.one_of(st.text(), token_shaped, st.text(alphabet=string.printable, max_size=200))


def refused_as_malformed_or_decoded(value: str | bytes) -> None:
    try:
        decode_token(value)
    except TokenError as error:
        assert error.reason is Reason.MALFORMED


@given(any_text)
def test_decoding_any_text_raises_nothing_but_a_malformed_token_error(text: str) -> None:
    refused_as_malformed_or_decoded(text)


@given(st.one_of(st.binary(max_size=300), token_shaped.map(str.encode)))
def test_decoding_any_bytes_raises_nothing_but_a_malformed_token_error(data: bytes) -> None:
    refused_as_malformed_or_decoded(data)


@given(st.one_of(any_text, st.binary(max_size=300)))
def test_verifying_garbage_returns_a_refusal_and_never_raises(value: str | bytes) -> None:
    result = verify_token(value, RING, NOON_SHANGHAI)
    assert isinstance(result, TokenError)


@given(token_shaped)
def test_no_random_token_shaped_text_is_ever_granted_entry(text: str) -> None:
    decision = decide_access(
        AccessRequest(QrCredential(text), "front", Direction.IN, NOON_SHANGHAI, 0.0),
        StationPolicy(location=HERE),
        TrustData(RING),
        AccessState(),
        0,
    )
    assert not decision.granted
    assert decision.reason in {Reason.MALFORMED, Reason.UNKNOWN_KEY, Reason.BAD_SIGNATURE}


@given(st.integers(0, TOKEN_CHARS - 1), st.sampled_from(B45))
def test_changing_any_one_character_of_a_good_token_breaks_it(position: int, char: str) -> None:
    tampered = GOOD[:position] + char + GOOD[position + 1 :]
    result = verify_token(tampered, RING, NOON_SHANGHAI)
    if tampered == GOOD:
        assert isinstance(result, VerifiedToken)
    else:
        assert isinstance(result, TokenError)


@given(st.binary(max_size=200))
def test_base45_round_trips_and_is_canonical(data: bytes) -> None:
    text = b45encode(data)
    assert b45decode(text) == data
    assert b45encode(b45decode(text)) == text


@given(
    worker=st.integers(0, 0xFFFF_FFFF),
    start=st.integers(0, 0xFFFF_FFFF),
    lifetime=st.integers(1, 255),
    group=st.integers(0, 255),
    scope=st.one_of(
        st.just(Scope.any()),
        st.integers(100000, 999999).map(Scope.region),
        st.integers(1, (1 << 22) - 1).map(Scope.station),
    ),
)
def test_every_issuable_token_decodes_to_its_claims_at_the_fixed_length(
    worker: int, start: int, lifetime: int, group: int, scope: Scope
) -> None:
    text = issue_token(
        KEY_A, worker_number=worker, not_before=start, lifetime_s=lifetime, scope=scope, group=group
    )
    claims = decode_token(text).claims
    assert len(text) == TOKEN_CHARS
    assert (claims.worker_number, claims.not_before, claims.lifetime_s) == (worker, start, lifetime)
    assert (claims.scope, claims.group) == (scope, group)
