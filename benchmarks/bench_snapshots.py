"""What validating every state on entry costs ``score()``: 128 states x 5 answers (a GRPO batch).

States are validated once per object: those made by an env (``get_states``, ``sample_states``,
``score(..., return_states=True)``) and by ``from_bytes``/``make_state`` carry a mark, so the GRPO
path pays one attribute check per state. A state built with the ``GameState`` constructor is
validated the first time an env sees it. Measured side by side in one run:

* ``no validation``: ``score()`` with the entry check switched off (what it cost before);
* ``marked states``: the normal path;
* ``first sight``: 128 states new to the env every call (constructor-built), so each is validated.

Run: python benchmarks/bench_snapshots.py   (prints a Markdown table)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import vlmgym  # noqa: E402
from common import best_time, side_by_side, table  # noqa: E402
from vlmgym import GameState  # noqa: E402
from vlmgym.envs import engine as engine_module  # noqa: E402

GROUPS, ANSWERS = 128, 5


def rows_for(env_id: str) -> list[tuple[str, str, str]]:
    sampled = vlmgym.sample_states(env_id, GROUPS, seed=0, obs_mode="text")
    states = [s for s in sampled.states for _ in range(ANSWERS)]
    vec = __import__("gymnasium").make_vec(env_id, num_envs=1, obs_mode="text")
    vec.reset(seed=0)
    legal = vec.legal_masks(sampled.states)
    answers = []
    for mask in legal:
        picks = mask.nonzero()[0][:ANSWERS].tolist() or [0]
        answers += [f"<answer>{a}</answer>" for a in vec.game.index_answers(picks * ANSWERS)][:ANSWERS]
    real_check = engine_module.ensure_valid

    def unchecked() -> None:
        engine_module.ensure_valid = lambda s: s  # type: ignore[assignment]
        try:
            vec.score(states, answers)
        finally:
            engine_module.ensure_valid = real_check

    def first_sight() -> None:
        fresh = [GameState(s.game, s.rules, s.arrays) for s in sampled.states]
        vec.score([s for s in fresh for _ in range(ANSWERS)], answers)

    def construct_only() -> None:
        [GameState(s.game, s.rules, s.arrays) for s in sampled.states]

    t = side_by_side({"unchecked": unchecked, "marked": lambda: vec.score(states, answers),
                      "first": first_sight, "construct": construct_only}, repeat=11)
    check = best_time(lambda: [real_check(s) for s in states], repeat=7, number=20)
    validate = t["first"] - t["construct"]
    return [
        (f"{env_id}: score() of {GROUPS} x {ANSWERS}, no validation", f"{t['unchecked'] * 1e3:.2f} ms", ""),
        (f"{env_id}: score(), marked states", f"{t['marked'] * 1e3:.2f} ms",
         f"{t['marked'] / t['unchecked']:.2f}x (noise of a shared machine included)"),
        (f"{env_id}: the entry check alone, {GROUPS * ANSWERS} marked states", f"{check * 1e3:.3f} ms",
         f"**{check / t['unchecked'] * 100:.2f}% of score()** (target < 1%)"),
        (f"{env_id}: validating {GROUPS} states at first sight", f"{validate * 1e3:.2f} ms",
         f"{validate / t['unchecked']:.2f}x of score() (once per state object)"),
    ]


if __name__ == "__main__":
    rows = []
    for env_id in ("VLMGym/2048-v0", "VLMGym/Shisensho-v0", "VLMGym/ShisenshoMoreTiles-v0", "VLMGym/Swap-v0"):
        rows += rows_for(env_id)
    print(table("Validating states on entry (score of a GRPO batch)", rows))
