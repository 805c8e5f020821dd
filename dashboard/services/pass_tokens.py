"""Tokens for a worker's pass page: the current one and the next few, each with its QR.

Every token starts at a rotation step (`contract.tokens.rotation_start`), so the page
can switch to the next one at each 30 s boundary from a list fetched in advance, and two
fetches for the same step return the same token (Ed25519 signatures are deterministic).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta

import segno

from contract.tokens import ROTATION_PERIOD_S, Scope, issue_token, rotation_start
from dashboard.core.workers import Worker
from dashboard.services.signing_keys import KeyManager

MAX_AHEAD = 20
"""Most tokens a page may fetch beyond the current one: 10 minutes of rotation."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """One token with its validity window and its QR code as inline SVG."""

    token: str
    key_id: int
    not_before: datetime
    not_after: datetime
    qr_svg: str


def qr_svg(text: str) -> str:
    """`text` (a token, a pass address) as an SVG QR code at error correction M
    (version 5 for a token).

    No size in the markup, only a viewBox, so the page scales it with CSS.
    """
    code = segno.make_qr(text, error="m", boost_error=False)
    return str(code.svg_inline(scale=1, border=4, omitsize=True, svgclass="qr", light="#fff"))


def qr_svg_document(text: str) -> str:
    """`text` as a QR code in an SVG document of its own (with its namespace), which a
    page can show as an image (`data:image/svg+xml,...`) or save as a file."""
    code = segno.make_qr(text, error="m", boost_error=False)
    out = io.BytesIO()
    code.save(
        out, kind="svg", xmldecl=False, nl=False, scale=1, border=4, omitsize=True, light="#fff"
    )
    return out.getvalue().decode("ascii")


def token_series(
    worker: Worker,
    keys: KeyManager,
    *,
    scope: Scope,
    group: int,
    now: datetime,
    ahead: int,
    lifetime_s: int,
) -> list[IssuedToken]:
    """The token of the step containing `now` and up to `ahead` following ones.

    Steps outside the worker's validity window get no token, and a token never outlives
    the window or the key that signed it.
    """
    start = rotation_start(now)
    tokens: list[IssuedToken] = []
    for step in range(min(ahead, MAX_AHEAD) + 1):
        not_before = start + timedelta(seconds=step * ROTATION_PERIOD_S)
        if not worker.valid_at(not_before) and not (step == 0 and worker.valid_at(now)):
            continue
        # The current step began before `now`: sign it with the key signing now (the
        # very first key did not exist at the step's start).
        key = keys.signer_at(max(not_before, now))
        if key is None:
            break
        ends = [not_before + timedelta(seconds=lifetime_s)]
        if worker.valid_until is not None:
            ends.append(worker.valid_until)
        retire = keys.retire_at(key.key_id)
        if retire is not None:
            ends.append(retire)
        seconds = int((min(ends) - not_before).total_seconds())
        if seconds < 1:
            continue
        text = issue_token(
            key,
            worker_number=worker.number,
            not_before=not_before,
            lifetime_s=seconds,
            scope=scope,
            group=group,
        )
        tokens.append(
            IssuedToken(
                text, key.key_id, not_before, not_before + timedelta(seconds=seconds), qr_svg(text)
            )
        )
    return tokens
