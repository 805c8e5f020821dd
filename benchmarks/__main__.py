"""Run every benchmark: `python -m benchmarks` runs each `benchmarks/*.py` module in turn."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path


def main() -> int:
    """Run each benchmark module as `python -m benchmarks.NAME` would; 1 if any failed."""
    failed = []
    for path in sorted(Path(__file__).parent.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        print(f"== benchmarks.{path.stem}", flush=True)
        try:
            runpy.run_module(f"benchmarks.{path.stem}", run_name="__main__")
        except SystemExit as exit_:
            if exit_.code not in (0, None):
                failed.append(path.stem)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
