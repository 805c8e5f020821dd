"""Cutting a byte stream the way a serial read might."""

from __future__ import annotations

import itertools

from hypothesis import strategies as st

cut_points = st.lists(st.integers(min_value=0), max_size=12)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """Split `data` at the given offsets (taken modulo its length)."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]
