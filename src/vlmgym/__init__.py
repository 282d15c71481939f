"""vlmgym: visual puzzle games for training and evaluating vision-language models.

``import vlmgym`` registers every ``VLMGym/*`` environment id with Gymnasium (Gymnasium 1.x no
longer loads plugins by itself); ``gym.make("vlmgym:VLMGym/2048-v0")`` imports it for you.
"""

from vlmgym import games as _games  # noqa: F401  (registers the built-in games by name)
from vlmgym.core.actions import ActionCodec, CellCodec, DirectionCodec, PairCodec
from vlmgym.core.answer import (
    format_ok,
    parse_answer,
    perception_cell_accuracy,
    perception_exact,
)
from vlmgym.core.game import Game, game_class, register_game
from vlmgym.core.image_tiles import ImageTiles
from vlmgym.core.layout import BoardLayout
from vlmgym.core.state import GameState, StateError
from vlmgym.envs.sampling import SampledStates, sample_states
from vlmgym.envs.single import VLMGymEnv
from vlmgym.envs.vector import VLMGymVectorEnv
from vlmgym.registration import (
    ENV_IDS,
    is_vlmgym_id,
    register_env,
    register_envs,
    registered_ids,
    require_vlmgym_id,
)
from vlmgym.version import __version__ as __version__

__all__ = [
    "ENV_IDS",
    "ActionCodec",
    "BoardLayout",
    "CellCodec",
    "DirectionCodec",
    "Game",
    "GameState",
    "ImageTiles",
    "PairCodec",
    "SampledStates",
    "StateError",
    "VLMGymEnv",
    "VLMGymVectorEnv",
    "format_ok",
    "game_class",
    "is_vlmgym_id",
    "parse_answer",
    "perception_cell_accuracy",
    "perception_exact",
    "register_env",
    "register_game",
    "registered_ids",
    "require_vlmgym_id",
    "sample_states",
]

register_envs()
