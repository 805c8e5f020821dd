"""The one interface every byte-stream codec offers to the I/O loops."""

from __future__ import annotations

from typing import Protocol, TypeVar

FrameT = TypeVar("FrameT")


class StreamDecoder(Protocol[FrameT]):
    """Bytes in, typed frames out; garbage is skipped and counted, never raised."""

    garbage_bytes: int
    """How many bytes were thrown away because they formed no valid frame."""

    def feed(self, data: bytes) -> list[FrameT]:
        """Consume a chunk as it came off the wire; return every frame it completed."""
        ...
