"""The paper's state sampler: reset, K uniformly random moves without drawing, one render."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from vlmgym.core import params
from vlmgym.core.state import GameState
from vlmgym.envs.vector import VLMGymVectorEnv

__all__ = ["MAX_SAMPLER_STEPS", "SampledStates", "sample_states"]

#: Most random moves the sampler takes per state (the paper's largest K is 250).
MAX_SAMPLER_STEPS = 100_000


@dataclass
class SampledStates:
    """States from :func:`sample_states` with their observations and info (batched), and how
    many frames the sampler composed (one per state: reset and random moves draw nothing)."""

    states: list[GameState]
    obs: Any
    info: dict[str, Any]
    frames_composed: int = 0

    def __len__(self) -> int:
        return len(self.states)


def sample_states(env_id: str, n: int, *, k: int | None = None, seed: int | None = 0,
                  **env_kwargs: Any) -> SampledStates:
    """Sample ``n`` training states: reset, ``k`` random moves (default: the game's K), observe.

    K defaults to the paper's value per game (2048: 100, Shisen-Sho: 250, Swap: 0). Frames are
    composed once, after the last move; a game that ends on the way restarts.
    """
    if k is not None:
        k = params.integer("k", k, 0, MAX_SAMPLER_STEPS)
    vec = gym.make_vec(env_id, num_envs=n, **env_kwargs)
    if not isinstance(vec, VLMGymVectorEnv):
        raise TypeError(f"{env_id} is not a vlmgym environment")
    try:
        vec.reset_states(seed=seed)  # nothing drawn until the final observe()
        steps = vec.game.sampler_steps if k is None else k
        vec.random_steps(steps)
        obs, info = vec.observe()
        return SampledStates(vec.get_states(), obs, info, vec.frames_composed)
    finally:
        vec.close()
