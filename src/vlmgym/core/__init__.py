"""Game-independent building blocks: snapshots, randomness, answers, action codecs, layout,
rendering, the Game protocol.

Nothing here imports gymnasium wrappers, pygame, torch or HTTP clients.
"""

from vlmgym.core.actions import ActionCodec, CellCodec, DirectionCodec, PairCodec, Parsed, ToolArg, ToolSpec
from vlmgym.core.answer import format_ok, parse_answer, perception_cell_accuracy, perception_exact
from vlmgym.core.explain import Explanation
from vlmgym.core.game import Game, Outcome, game_class, register_game
from vlmgym.core.layout import BoardLayout
from vlmgym.core.state import GameState, StateError

__all__ = [
    "ActionCodec",
    "BoardLayout",
    "CellCodec",
    "DirectionCodec",
    "Explanation",
    "Game",
    "GameState",
    "Outcome",
    "PairCodec",
    "Parsed",
    "StateError",
    "ToolArg",
    "ToolSpec",
    "format_ok",
    "game_class",
    "parse_answer",
    "perception_cell_accuracy",
    "perception_exact",
    "register_game",
]
