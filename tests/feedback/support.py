"""Photos with a GPS position, as phones take them, for the report tests."""

from __future__ import annotations

import io

from PIL import Image

GPS_TAG = 0x8825
"""The EXIF tag of the GPS block (GPSInfo)."""


def jpeg_with_gps(width: int, height: int) -> bytes:
    """A JPEG whose EXIF names the camera and a position in Changsha."""
    image = Image.new("RGB", (width, height), (30, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[GPS_TAG] = {
        1: "N",
        2: (28.0, 11.0, 45.6),
        3: "E",
        4: (112.0, 58.0, 37.2),
    }
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()
