"""Small JSON files in the gateway's state directory, written so a power cut cannot tear them.

Each file is written to a temporary file in the same directory, flushed to disk and
renamed over the old one, and the directory is synced, so after a power cut the file is
either the old one or the new one, never half of one.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` (temporary file, fsync, rename, directory fsync).

    Raises `OSError`; the old file is then left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    # The rename itself lives in the directory; sync it too so it survives a power cut.
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_json(path: Path, document: Any) -> None:
    """Write `document` as JSON with `write_atomically`; raises `OSError`."""
    write_atomically(path, json.dumps(document, ensure_ascii=False).encode())


def read_json(path: Path, what: str) -> Any:
    """The JSON document in `path`; None when there is none or it cannot be read (logged
    with `what` it holds, so the gateway starts without it rather than not at all)."""
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:
        log.error("cannot read %s from %s (%s); starting without it", what, path, exc)
        return None
