"""Percentiles of one repetition, and min / median / max across repetitions."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated linearly between the closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / p99 / max of one repetition's request latencies, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": max(ms) if ms else math.nan,
    }


Spread = dict[str, float | list[float]]


def spread(values: Iterable[float]) -> Spread:
    """min / median / max of a figure over its repetitions, with the per-repetition values."""
    kept = [v for v in values if not math.isnan(v)]
    if not kept:
        return {"min": math.nan, "median": math.nan, "max": math.nan, "runs": []}
    return {"min": min(kept), "median": statistics.median(kept), "max": max(kept), "runs": kept}
