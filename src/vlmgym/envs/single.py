"""``VLMGymEnv``: one game as a ``gymnasium.Env`` (an engine with a batch of one)."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from vlmgym.core import rng as rngmod
from vlmgym.core.game import Game
from vlmgym.core.state import GameState
from vlmgym.envs.engine import Engine, choice, make_game

__all__ = ["VLMGymEnv", "unbatch_info"]

RENDER_MODES = ("rgb_array", "human")


def unbatch_info(info: dict[str, np.ndarray], i: int) -> dict[str, Any]:
    """Env ``i``'s entry of a batched info dict, as plain Python values and fresh arrays."""
    out: dict[str, Any] = {}
    for k, v in info.items():
        x = v[i]
        if isinstance(x, np.ndarray):
            out[k] = x.copy()
        elif isinstance(x, np.generic):
            out[k] = x.item()
        else:
            out[k] = x
    return out


class VLMGymEnv(gym.Env[Any, Any]):
    """A vlmgym game as a single Gymnasium environment.

    Usually created with ``gym.make("VLMGym/<Game>-v0", **kwargs)``; see the game classes for
    rules and ``docs/api.md`` for observation/action/reward modes and info keys.

    Args:
        game: registered game name (``"2048"``, ...) or a :class:`~vlmgym.core.game.Game`.
        obs_mode, action_mode, reward_mode, cell_px, show_coords, hud, image_size:
            see :class:`~vlmgym.envs.engine.Engine`.
        render_mode: ``"rgb_array"`` or ``"human"`` (a pygame window; ``pip install vlmgym[play]``).
        **game_kwargs: the game's own arguments (board size, tile types, ...).
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}

    def __init__(self, game: str | Game = "2048", *, obs_mode: str = "image",
                 action_mode: str = "text", reward_mode: str = "binary",
                 render_mode: str | None = None, cell_px: int = 56, show_coords: bool = False,
                 hud: bool | None = None, image_size: tuple[int, int] | str | None = None,
                 **game_kwargs: Any):
        if render_mode is not None:
            choice("render_mode", render_mode, RENDER_MODES)
        self.engine = Engine(make_game(game, game_kwargs), 1, obs_mode=obs_mode,
                             action_mode=action_mode, reward_mode=reward_mode, cell_px=cell_px,
                             show_coords=show_coords, hud=hud, image_size=image_size)
        self.game = self.engine.game
        self.render_mode = render_mode
        self.observation_space = self.engine.single_observation_space()
        self.action_space = self.engine.single_action_space()
        self._viewer: Any = None
        self._started = False

    # -- gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Start a new game. ``options={"state": GameState}`` resumes a snapshot instead."""
        super().reset(seed=seed)
        options = options or {}
        unknown = set(options) - {"state"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; supported: ['state']")
        idx = np.array([0])
        if "state" in options:
            self.engine.set_states([options["state"]], idx)
        else:
            self.engine.deal(idx, rngmod.seed_from(self.np_random, 1))
        self._started = True
        obs, info = self._observe()
        if self.render_mode == "human":
            self.render()
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Apply one answer (``str`` in text mode, ``int`` in index mode)."""
        if not self._started:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self.engine.action_mode == "index":
            if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer, np.ndarray)):
                raise TypeError(f"in action_mode='index' the action must be an int of "
                                f"{self.action_space}, got {type(action).__name__}")
            action = np.asarray(action).reshape(-1)
            if action.shape != (1,):
                raise ValueError(f"expected one action of {self.action_space}, got shape {action.shape}")
        else:
            if not isinstance(action, str):
                raise TypeError(f"in action_mode='text' the action is the model's reply (str), "
                                f"got {type(action).__name__}")
            action = [action]
        tr = self.engine.transition(self.engine.batch, action)
        obs, info = self._observe()
        info.update(unbatch_info(tr.info, 0))
        if self.render_mode == "human":
            self.render()
        return obs, float(tr.reward[0]), bool(tr.terminated[0]), False, info

    def _observe(self) -> tuple[Any, dict[str, Any]]:
        texts, info = self.engine.describe(self.engine.batch)
        obs = self.engine.observe(self.engine.batch, texts)
        if isinstance(obs, dict):
            obs = {"image": obs["image"][0], "text": obs["text"][0]}
        else:
            obs = obs[0]
        return obs, unbatch_info(info, 0)

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array'")
            return None
        frame = self.engine.frames(self.engine.batch)[0]
        if self.render_mode == "rgb_array":
            return frame
        if self._viewer is None:
            from vlmgym.envs.human import Viewer

            self._viewer = Viewer(f"vlmgym {self.game.name}", frame.shape[1], frame.shape[0],
                                  self.metadata["render_fps"])
        self._viewer.show(frame)
        return None

    def close(self) -> None:
        if self._viewer is not None:
            self._viewer.close()
            self._viewer = None

    # -- snapshots and helpers ---------------------------------------------------------------
    def get_state(self) -> GameState:
        """Immutable snapshot of the current game (board, counters, random stream)."""
        return self.engine.get_states([0])[0]

    def set_state(self, state: GameState) -> None:
        """Restore a snapshot from :meth:`get_state` (observations follow on the next call)."""
        self.engine.set_states([state], np.array([0]))
        self._started = True

    def legal_actions(self) -> np.ndarray:
        """bool mask over the index action space: which moves are legal now."""
        return self.game.legal_mask(self.engine.batch)[0]

    @property
    def prompt(self) -> str:
        return self.engine.prompt

    def board_text(self) -> str:
        return self.game.board_text(self.engine.batch, 0)
