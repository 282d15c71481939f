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


def register_envs() -> None:
    """Register every id with Gymnasium (idempotent)."""
    for env_id, (kwargs, max_steps) in ENV_IDS.items():
        if env_id in gym.registry:
            continue
        gym.register(id=env_id, entry_point=_SINGLE, vector_entry_point=_VECTOR,
                     kwargs=dict(kwargs), max_episode_steps=max_steps)
