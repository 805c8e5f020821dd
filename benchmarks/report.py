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


def against_baseline(
    measured_key: str,
    measured_ms: list[float],
    baseline_key: str,
    baseline_ms: list[float],
    floor_p99_ms: float,
) -> dict[str, Any]:
    """A latency's percentiles beside its baseline's from the same run, their p50 ratio
    and whether the p99 stays under the issue's floor."""
    measured, baseline = percentiles(measured_ms), percentiles(baseline_ms)
    return {
        measured_key: measured,
        baseline_key: baseline,
        "p50_ratio_to_baseline": measured["p50"] / baseline["p50"],
        "floor_p99_ms": floor_p99_ms,
        "p99_under_floor": measured["p99"] < floor_p99_ms,
        "machine": machine(),
    }


def conclude(name: str, results: dict[str, Any], floor: str) -> int:
    """Write the results file, print the floor's verdict and where the figures went; the
    exit code: 0 when `results["p99_under_floor"]`, else 1."""
    path = write_results(name, results)
    met = bool(results["p99_under_floor"])
    print(f"  floor {floor}: {'met' if met else 'NOT met'}")
    print(f"  written to {path}")
    return 0 if met else 1
