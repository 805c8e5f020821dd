"""Shared by the benchmarks: percentiles, the machine they ran on, and the results file."""

from __future__ import annotations

import json
import os
import platform
import statistics
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50, p90, p99 and max of `samples` (at least two)."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "p50": cuts[49],
        "p90": cuts[89],
        "p99": cuts[98],
        "max": max(samples),
        "mean": statistics.fmean(samples),
    }


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def write_results(name: str, results: dict[str, Any]) -> Path:
    """Write `benchmarks/results/NAME.json` and return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    return path
