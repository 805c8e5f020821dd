"""Types of the query parameters several routes share."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _rfc3339(value: object) -> object:
    # pydantic would also read a bare number as seconds since 1970; the document says
    # `date-time`, so that is all that is accepted.
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        raise ValueError("expected a time with its offset, as 2026-11-23T08:00:00+08:00")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]
"""A point in time in a query: RFC 3339 text with an offset (`Z` for UTC)."""
