"""Game-independent building blocks: snapshots, randomness, answers, rendering, the Game protocol.

Nothing here imports gymnasium wrappers, pygame, torch or HTTP clients.
"""

from vlmgym.core.answer import Parsed, format_ok, parse_answer, perception_cell_accuracy, perception_exact
from vlmgym.core.game import Game, Outcome, game_class, register_game
from vlmgym.core.state import GameState, StateError

__all__ = [
    "Game",
    "GameState",
    "Outcome",
    "Parsed",
    "StateError",
    "format_ok",
    "game_class",
    "parse_answer",
    "perception_cell_accuracy",
    "perception_exact",
    "register_game",
]
