"""What a game's cold-start teacher says about a state (:meth:`vlmgym.core.game.Game.explain`).

The oracle teacher of ``vlmgym_rl`` (the G1 cold start) asks the game to explain the solver's move:
each game looks at the state the way its solver does and returns the move with a ``<think>`` text
that reports exactly those checks. Legality and success always come from the environment itself
(counterfactual scoring on copies of the state), never from the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Explanation", "board_cells", "cell_text"]


@dataclass(frozen=True)
class Explanation:
    """A chosen move and the reasoning behind it.

    ``answer`` is the text inside ``<answer>`` (the game's canonical format), ``think`` the text
    inside ``<think>``; ``action`` is ``None`` when the state has no rewarded move (the state is
    then skipped, and ``think`` says why).
    """

    action: Any
    answer: str | None
    think: str
    checked: int  # moves the solver simulated


def board_cells(board_text: str) -> list[list[str]]:
    """The cells of a board text (one line per row, cells separated by ``|``), stripped;
    ``"-"`` is an empty cell."""
    return [[c.strip() for c in line.split("|")] for line in board_text.split("\n")]


def cell_text(cell: tuple[int, int]) -> str:
    """``(r, c)`` as the prompts write cells."""
    return f"({cell[0]}, {cell[1]})"
