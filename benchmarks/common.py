"""Timing helpers shared by the benchmarks: interleaved repeats, best-of, ratio tables."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


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


def scoring_rows(env_id: str, scorer: Any, states: list[Any], answers: list[str],
                 obs_modes: tuple[str, ...] = ("image",), repeat: int = 7) -> list[tuple[str, str, str]]:
    """Counterfactual ``scorer.score(states, answers)`` against plain batched steps of the same pairs.

    The baseline is a vector env with one env per pair, restored with ``set_states`` and stepped
    once with the answers, per observation mode. Returns the table rows (target: <= 1.5x).
    """
    import gymnasium as gym

    plain = {}
    for mode in obs_modes:
        plain[mode] = gym.make_vec(env_id, num_envs=len(states), obs_mode=mode)
        plain[mode].reset(seed=2)

    def step(vec: Any) -> None:
        vec.set_states(states)
        vec.step(answers)

    fns: dict[str, Callable[[], object]] = {"score": lambda: scorer.score(states, answers)}
    fns.update({mode: (lambda v=vec: step(v)) for mode, vec in plain.items()})
    t = side_by_side(fns, repeat=repeat)
    n, groups = len(states), len({s.digest() for s in states})
    rows = [(f"score(): {groups} states x {n // groups} answers", f"{t['score'] * 1e3:.2f} ms", "")]
    rows += [(f"{n} plain batched steps (set_states + step, {m} obs)", f"{t[m] * 1e3:.2f} ms", "")
             for m in obs_modes]
    rows += [(f"{'**' if i == 0 else ''}score cost / plain {m} steps{'**' if i == 0 else ''}",
              f"{'**' if i == 0 else ''}{t['score'] / t[m]:.2f}x{'**' if i == 0 else ''}", "<= 1.5x")
             for i, m in enumerate(obs_modes)]
    return rows


def table(title: str, rows: list[tuple[str, str, str]]) -> str:
    """A Markdown table of (measurement, value, target)."""
    lines = [f"### {title}", "", "| measurement | value | target |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)
