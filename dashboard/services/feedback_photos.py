"""Photos workers attach to their reports: checked, shrunk, stripped, kept as files.

A photo is decoded as an image (anything else is refused), turned upright by its EXIF
orientation, shrunk to at most `MAX_SIDE` pixels on its longer side and written again as
a JPEG *without* any of its metadata: no GPS position, no camera serial, no time. Only
the re-encoded pixels are kept, in a directory outside the database, under a random name
the database stores. Photos are deleted with their report, and after the retention
(`feedback.photo_retention_days`) on their own.
"""

from __future__ import annotations

import io
import secrets
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_SIDE = 1600
"""The longest side of a kept photo, in pixels: enough to see a broken lock."""
MAX_PIXELS = 50_000_000
"""Images claiming more pixels are refused before they are decoded (a decompression bomb)."""
JPEG_QUALITY = 82


class PhotoError(ValueError):
    """Bytes that are not a photo this central keeps."""


def clean_photo(data: bytes) -> bytes:
    """The photo as kept: upright, at most `MAX_SIDE` pixels, JPEG, no metadata.
    `PhotoError` for bytes that are not an image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise PhotoError(f"the image has {image.width}x{image.height} pixels; too many")
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, PhotoError):
            raise
        raise PhotoError("the photo is not an image (JPEG, PNG, WebP or GIF)") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise PhotoError("the image has too many pixels") from None
    upright = ImageOps.exif_transpose(image)
    upright.thumbnail((MAX_SIDE, MAX_SIDE))
    if upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    out = io.BytesIO()
    # A fresh image with only the pixels: nothing of the original's EXIF, ICC or XMP.
    bare = Image.new(upright.mode, upright.size)
    bare.paste(upright)
    bare.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


class PhotoFiles:
    """The directory report photos are kept in."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def save(self, jpeg: bytes) -> str:
        """Keep a cleaned photo; its file name."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{secrets.token_hex(16)}.jpg"
        partial = self.directory / f".{name}.part"
        partial.write_bytes(jpeg)
        partial.replace(self.directory / name)
        return name

    def read(self, name: str) -> bytes | None:
        """A kept photo's bytes; None when the file is gone."""
        path = self._path(name)
        return path.read_bytes() if path.is_file() else None

    def delete(self, name: str) -> None:
        """Delete a photo (nothing if it is gone already)."""
        self._path(name).unlink(missing_ok=True)

    def _path(self, name: str) -> Path:
        # Names come from the database, which only ever holds names `save` made.
        if "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"not a photo name: {name!r}")
        return self.directory / name
