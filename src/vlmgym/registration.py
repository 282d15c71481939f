"""Every ``VLMGym/*`` id, in one place. Imported (and run) by ``import vlmgym``.

Each id maps to the generic env classes with a game name and its preset kwargs; every kwarg can be
overridden in ``gym.make``/``gym.make_vec`` and shows up in ``env.spec.kwargs``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

__all__ = ["ENV_IDS", "register_envs"]

_SINGLE = "vlmgym.envs.single:VLMGymEnv"
_VECTOR = "vlmgym.envs.vector:VLMGymVectorEnv"

#: id -> (game kwargs, max_episode_steps). The paper's configurations and difficulty presets.
ENV_IDS: dict[str, tuple[dict[str, Any], int | None]] = {
    "VLMGym/2048-v0": ({"game": "2048", "size": 4}, None),
    # Swap never ends by itself; 100 steps matches the paper's 100-step evaluation.
    "VLMGym/Swap-v0": ({"game": "swap", "rows": 8, "cols": 8, "colors": 4, "shapes": 3}, 100),
}


# Shisen-Sho: the paper's two configurations, then the difficulty presets of its figure (a
# perception axis: more colours and shapes; a reasoning axis: a bigger board with more tiles; and
# their composition). Colours and shapes are counts taking the first N of vlmgym.core.tiles.
_SHISENSHO = {"game": "shisensho", "rows": 6, "cols": 6, "types": 9}
ENV_IDS.update({
    "VLMGym/Shisensho-v0": ({**_SHISENSHO, "colors": 16, "shapes": 6}, None),
    # needs cifar10_path=... or the VLMGYM_CIFAR10 environment variable
    "VLMGym/ShisenshoCifar10-v0": ({**_SHISENSHO, "tiles": "cifar10"}, None),
    "VLMGym/ShisenshoBase-v0": ({**_SHISENSHO, "colors": 6, "shapes": 6}, None),
    "VLMGym/ShisenshoMoreShapesColors-v0": ({**_SHISENSHO, "colors": 16, "shapes": 8}, None),
    "VLMGym/ShisenshoMoreTiles-v0": (
        {**_SHISENSHO, "rows": 12, "cols": 12, "types": 36, "colors": 6, "shapes": 6}, None),
    "VLMGym/ShisenshoComposition-v0": (
        {**_SHISENSHO, "rows": 12, "cols": 12, "types": 36, "colors": 16, "shapes": 8}, None),
})


def register_envs() -> None:
    """Register every id with Gymnasium (idempotent)."""
    for env_id, (kwargs, max_steps) in ENV_IDS.items():
        if env_id in gym.registry:
            continue
        gym.register(id=env_id, entry_point=_SINGLE, vector_entry_point=_VECTOR,
                     kwargs=dict(kwargs), max_episode_steps=max_steps)
