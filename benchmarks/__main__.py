"""Run every benchmark in turn: `python -m benchmarks`."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

SKIP = {"report", "__main__"}


def main() -> int:
    """Run each benchmark module's `main()`; exit 1 if any missed its floor."""
    names = sorted(
        module.name
        for module in pkgutil.iter_modules([str(Path(__file__).resolve().parent)])
        if module.name not in SKIP and not module.name.startswith("_")
    )
    failed = []
    for name in names:
        print(f"== benchmarks.{name}", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        if module.main() != 0:
            failed.append(name)
    if failed:
        print(f"floors missed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
