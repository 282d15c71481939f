"""Timing helpers shared by the benchmarks: interleaved repeats, best-of, ratio tables."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time(fn: Callable[[], object], repeat: int = 5, number: int = 1) -> float:
    """Best wall time of ``number`` calls, over ``repeat`` tries (seconds per call)."""
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t) / number)
    return best


def side_by_side(fns: dict[str, Callable[[], object]], repeat: int = 5, number: int = 1) -> dict[str, float]:
    """Time several functions interleaved (A B A B ...) so machine noise hits all alike."""
    for fn in fns.values():
        fn()
    best = {k: float("inf") for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t = time.perf_counter()
            for _ in range(number):
                fn()
            best[k] = min(best[k], (time.perf_counter() - t) / number)
    return best


def table(title: str, rows: list[tuple[str, str, str]]) -> str:
    """A Markdown table of (measurement, value, target)."""
    lines = [f"### {title}", "", "| measurement | value | target |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)
