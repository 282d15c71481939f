"""Reasoning text for the oracle cold-start teacher: what the game's solver checked.

Each game explains a state itself (:meth:`vlmgym.Game.explain`, in the game's own file): it looks
at the state the way its solver does -- every 2048 move and the merges it makes, every Shisen-Sho
pair of matching tiles and whether a path with at most two turns joins them, every Swap and the
lines it makes -- and returns the chosen move with a ``<think>`` text that reports exactly those
checks. Legality and success always come from the environment itself (``VLMGymVectorEnv.score``
on copies of the state); a game without its own explanation gets the generic one (the solver's
pick, checked by the env).
"""

from __future__ import annotations

from typing import Any

from vlmgym.core.explain import Explanation, board_cells

__all__ = ["Explanation", "board_cells", "explain"]


def explain(env: Any, state: Any, board_text: str, oracle_pick: Any) -> Explanation:
    """The explanation for one state of ``env``'s game (a vlmgym vector env used for scoring)."""
    return env.game.explain(state, board_text, oracle_pick, env.score)
