"""``VLMGymEnv``: one game as a ``gymnasium.Env`` (an engine with a batch of one)."""

from __future__ import annotations

import copy
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

from vlmgym.core import params
from vlmgym.core import rng as rngmod
from vlmgym.core.game import Game
from vlmgym.core.state import GameState
from vlmgym.envs.engine import Engine, EngineViews, make_game

__all__ = ["RENDER_MODES", "VLMGymEnv", "check_render_mode", "unbatch_info"]

#: Render modes the envs implement. ``gym.make(id, render_mode="human")`` still opens a window:
#: Gymnasium wraps an env that declares ``rgb_array`` (and not ``human``) in its own
#: ``HumanRendering`` (pygame), so the envs themselves never need pygame.
RENDER_MODES = ("rgb_array",)


def check_render_mode(render_mode: str | None, human_hint: str) -> None:
    """Refuse render modes the envs do not implement, saying how to get a window."""
    if render_mode == "human":
        raise ValueError(f"render_mode must be 'rgb_array' or None here; for a window, {human_hint}")
    if render_mode is not None:
        params.choice("render_mode", render_mode, RENDER_MODES)


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


class VLMGymEnv(EngineViews, gym.Env[Any, Any]):
    """A vlmgym game as a single Gymnasium environment.

    Usually created with ``gym.make("VLMGym/<Game>-v0", **kwargs)``; see the game classes for
    rules and ``docs/api.md`` for observation/action/reward modes and info keys.

    Args:
        game: a registered game's name (see ``vlmgym.game_class``) or a :class:`~vlmgym.core.game.Game`.
        obs_mode, action_mode, reward_mode, cell_px, show_coords, hud, image_size:
            see :class:`~vlmgym.envs.engine.Engine`.
        max_episode_steps: the step budget (``None``: none): ``truncated`` is true once the
            state's ``steps`` reach it, also after ``reset(options={"state": s})`` or
            ``set_state(s)`` (a snapshot keeps its budget), exactly as in the vector env. Ids
            carry it in their kwargs (``VLMGym/Swap-v0``: 100) and are registered without
            Gymnasium's ``TimeLimit``, which would count the calls since the last reset instead;
            ``env.spec.max_episode_steps`` reports it.
        render_mode: ``"rgb_array"`` or ``None``. ``gym.make(id, render_mode="human")`` opens a
            window: Gymnasium wraps this env in its ``HumanRendering`` (``pip install vlmgym[play]``).
        **game_kwargs: the game's own arguments (board size, tile types, ...).
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}
    _spec: EnvSpec | None = None

    @property  # type: ignore[override]
    def spec(self) -> EnvSpec | None:
        """Gymnasium's spec; its ``max_episode_steps`` is this env's step budget."""
        return self._spec

    @spec.setter
    def spec(self, value: EnvSpec | None) -> None:
        # gym.make sets a spec without max_episode_steps (vlmgym ids have no TimeLimit): report the
        # env's own budget there, so tools that read it see the truth
        if value is not None and value.max_episode_steps != self.engine.max_episode_steps:
            value = copy.copy(value)
            value.max_episode_steps = self.engine.max_episode_steps
        self._spec = value

    def __init__(self, game: str | Game, *, obs_mode: str = "image",
                 action_mode: str = "text", reward_mode: str = "binary",
                 render_mode: str | None = None, cell_px: int = 56, show_coords: bool = False,
                 hud: bool | None = None, image_size: tuple[int, int] | str | None = None,
                 max_episode_steps: int | None = None, **game_kwargs: Any):
        check_render_mode(render_mode, "use gym.make(id, render_mode='human') or wrap the env in "
                                       "gymnasium.wrappers.HumanRendering (pip install 'vlmgym[play]')")
        self.engine = Engine(make_game(game, game_kwargs), 1, obs_mode=obs_mode,
                             action_mode=action_mode, reward_mode=reward_mode, cell_px=cell_px,
                             show_coords=show_coords, hud=hud, image_size=image_size,
                             max_episode_steps=max_episode_steps)
        self.game = self.engine.game
        self.render_mode = render_mode
        self.observation_space = self.engine.single_observation_space()
        self.action_space = self.engine.single_action_space()
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
        return self._observe()

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
        truncated = self.engine.truncated(self.engine.batch, tr.terminated)
        obs, info = self._observe()
        info.update(unbatch_info(tr.info, 0))
        return obs, float(tr.reward[0]), bool(tr.terminated[0]), bool(truncated[0]), info

    def _observe(self) -> tuple[Any, dict[str, Any]]:
        texts, info = self.engine.describe(self.engine.batch)
        obs = self.engine.observe(self.engine.batch, texts)
        if isinstance(obs, dict):
            obs = {"image": obs["image"][0], "text": obs["text"][0]}
        else:
            obs = obs[0]
        return obs, unbatch_info(info, 0)

    def render(self) -> np.ndarray | None:
        """The current frame (``render_mode="rgb_array"``): the same picture as the image observation."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array'")
            return None
        return self.engine.frames(self.engine.batch)[0]

    # -- snapshots and helpers ---------------------------------------------------------------
    def get_state(self) -> GameState:
        """Immutable snapshot of the current game (board, counters, random stream)."""
        return self.engine.get_states([0])[0]

    def set_state(self, state: GameState) -> None:
        """Restore a snapshot from :meth:`get_state` (observations follow on the next call)."""
        self.engine.set_states([state], np.array([0]))
        self._started = True

    def _batch_of(self, state: GameState | None) -> dict[str, np.ndarray]:
        return self.engine.batch if state is None else self.engine.stack([state])

    def legal_actions(self, state: GameState | None = None) -> np.ndarray:
        """bool mask over the index action space: the legal moves now (or in ``state``)."""
        return self.engine.legal_masks(self._batch_of(state))[0]

    def is_terminal(self, state: GameState | None = None) -> bool:
        """Whether the game is over now (or in ``state``): no move can be played."""
        return bool(self.engine.terminal(self._batch_of(state))[0])

    @property
    def prompt(self) -> str:
        return self.engine.prompt

    def board_text(self, state: GameState | None = None) -> str:
        """The exact board text now (or of ``state``)."""
        return self.game.board_text(self._batch_of(state), 0)
