"""``VLMGymVectorEnv``: a native batched ``gymnasium.vector.VectorEnv``.

``gym.make_vec("VLMGym/...", num_envs=n)`` returns this class (it is the registered
``vector_entry_point``): all envs advance in one set of array operations and frames are composed
for the whole batch at once. Extras beyond Gymnasium: snapshots (``get_states``/``set_states``),
counterfactual ``score`` for GRPO groups, and ``random_steps`` for the paper's state sampler.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from vlmgym.core import params
from vlmgym.core import rng as rngmod
from vlmgym.core.game import Batch, Game
from vlmgym.core.state import GameState
from vlmgym.envs.engine import Engine, EngineViews, make_game
from vlmgym.envs.single import RENDER_MODES, check_render_mode

__all__ = ["VLMGymVectorEnv"]

_AUTORESET = {"same_step": AutoresetMode.SAME_STEP, "disabled": AutoresetMode.DISABLED}


def _masked(info: dict[str, np.ndarray], present: np.ndarray | None = None) -> dict[str, Any]:
    """Gymnasium vector info layout: every key has a boolean ``_key`` mask."""
    out: dict[str, Any] = {}
    for k, v in info.items():
        out[k] = v
        n = len(v)
        out[f"_{k}"] = np.ones(n, dtype=bool) if present is None else present.copy()
    return out


class VLMGymVectorEnv(EngineViews, VectorEnv[Any, Any, Any]):
    """A batch of ``num_envs`` games of one kind, stepped together.

    Args:
        game: registered game name or a :class:`~vlmgym.core.game.Game`.
        num_envs: batch size.
        autoreset_mode: ``AutoresetMode.SAME_STEP`` (default; a finished env restarts inside the
            step, its last observation and info are in ``infos["final_obs"]``/``["final_info"]``)
            or ``AutoresetMode.DISABLED`` (call ``reset(options={"reset_mask": mask})``).
            ``NEXT_STEP`` is refused: it would silently drop the answer given to a finished env.
        max_episode_steps: the step budget: an env is truncated once its state's ``steps`` reach
            it (``None``: no budget), the same rule as the single env's.
        obs_mode, action_mode, reward_mode, render_mode, cell_px, show_coords, hud, image_size,
        **game_kwargs: as for :class:`~vlmgym.envs.single.VLMGymEnv`. ``render_mode="rgb_array"``
            renders every env; for a window tiling them, wrap the env in
            ``gymnasium.wrappers.vector.HumanRendering``.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4,
                "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, game: str | Game, num_envs: int = 1, *,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP,
                 max_episode_steps: int | None = None, obs_mode: str = "image",
                 action_mode: str = "text", reward_mode: str = "binary",
                 render_mode: str | None = None, cell_px: int = 56, show_coords: bool = False,
                 hud: bool | None = None, image_size: tuple[int, int] | str | None = None,
                 **game_kwargs: Any):
        if isinstance(autoreset_mode, str):
            mode = _AUTORESET.get(autoreset_mode.lower())
        else:
            mode = autoreset_mode if autoreset_mode in _AUTORESET.values() else None
        if mode is None:
            raise ValueError(f"autoreset_mode must be AutoresetMode.SAME_STEP or "
                             f"AutoresetMode.DISABLED, got {autoreset_mode!r} (NEXT_STEP would "
                             "drop the answer given to a finished env)")
        check_render_mode(render_mode, "wrap the vector env: gymnasium.wrappers.vector.HumanRendering("
                                       "gym.make_vec(id, num_envs, render_mode='rgb_array')) (needs pygame and "
                                       "OpenCV: pip install 'vlmgym[play]' opencv-python)")
        self.engine = Engine(make_game(game, game_kwargs), num_envs, obs_mode=obs_mode,
                             action_mode=action_mode, reward_mode=reward_mode, cell_px=cell_px,
                             show_coords=show_coords, hud=hud, image_size=image_size,
                             max_episode_steps=max_episode_steps)
        self.game = self.engine.game
        self.num_envs = self.engine.num_envs
        self.autoreset_mode = mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        self.max_episode_steps = self.engine.max_episode_steps
        self.render_mode = render_mode
        self.single_observation_space = self.engine.single_observation_space()
        self.single_action_space = self.engine.single_action_space()
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._started = False

    # -- gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | Sequence[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset all envs, or those in ``options["reset_mask"]``.

        ``seed``: an int (env ``i`` gets ``seed + i``, matching ``VLMGymEnv.reset(seed=seed + i)``),
        a list with one seed (or ``None``) per reset env, or ``None``.
        ``options["states"]``: a list of :class:`GameState` to start from instead of new games.
        """
        mask = self.reset_states(seed=seed, options=options)
        texts, info = self.engine.describe(self.engine.batch)
        obs = self.engine.observe(self.engine.batch, texts)
        return obs, _masked(info, mask if not mask.all() else None)

    def reset_states(self, *, seed: int | Sequence[int | None] | None = None,
                     options: dict[str, Any] | None = None) -> np.ndarray:
        """:meth:`reset` without building observations (nothing is drawn); returns the reset mask.

        Used by the state sampler: reset, K random moves, then a single :meth:`observe`.
        """
        options = dict(options or {})
        unknown = set(options) - {"reset_mask", "states"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; supported: reset_mask, states")
        mask = options.get("reset_mask")
        if mask is None:
            mask = np.ones(self.num_envs, dtype=bool)
        else:
            mask = np.asarray(mask)
            if mask.dtype != bool or mask.shape != (self.num_envs,):
                raise ValueError(f"reset_mask must be a bool array of shape ({self.num_envs},)")
        idx = np.flatnonzero(mask)
        base = seed if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) else None
        super().reset(seed=base)
        if "states" in options:
            if seed is not None:
                raise ValueError("pass either seed or options['states'], not both")
            self.engine.set_states(list(options["states"]), idx)
        else:
            if base is not None:
                seed = [base + int(i) for i in idx]
            self.engine.deal(idx, Engine.seeds_for(seed, len(idx), self.np_random))
        self._started = True
        return mask

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Apply one answer per env; finished envs restart in the same step (SAME_STEP mode)."""
        if not self._started:
            raise gym.error.ResetNeeded("call reset() before step()")
        engine = self.engine
        batch = engine.batch
        tr = engine.transition(batch, self._as_actions(actions))
        terminated = tr.terminated
        truncated = engine.truncated(batch, terminated)  # the state's steps, as in the single env
        done = terminated | truncated
        final: dict[str, Any] = {}
        if self.autoreset_mode == AutoresetMode.SAME_STEP and done.any():
            # finished envs: their last observation and info first, then new games; the whole
            # batch is composed once afterwards, so returned frames are never written to later
            idx = np.flatnonzero(done)
            sub: Batch = {k: v[idx] for k, v in batch.items()}
            sub_texts, sub_info = engine.describe(sub)
            sub_obs = engine.observe(sub, sub_texts)
            final_obs = np.full(self.num_envs, None, dtype=object)
            for j, i in enumerate(idx):
                final_obs[i] = _select(sub_obs, j)
            final_info = {k: _scatter(v, idx, self.num_envs) for k, v in sub_info.items()}
            final_info.update({k: v.copy() for k, v in tr.info.items()})
            final = {"final_obs": final_obs, "_final_obs": done.copy(),
                     "final_info": _masked(final_info, done), "_final_info": done.copy()}
            engine.deal(idx, rngmod.seed_from(self.np_random, len(idx)))
        texts, state_info = engine.describe(batch)
        obs = engine.observe(batch, texts)
        infos = {**_masked({**state_info, **tr.info}), **final}
        return obs, tr.reward.copy(), terminated, truncated, infos

    def _as_actions(self, actions: Any) -> Any:
        if self.engine.action_mode == "text" and isinstance(actions, np.ndarray):
            return list(actions)
        return actions

    def render(self) -> np.ndarray | None:  # type: ignore[override]  # one batched array, not a tuple
        """Frames ``(num_envs, H, W, 3)`` of every env (``render_mode="rgb_array"``)."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array'")
            return None
        return self.engine.frames(self.engine.batch)

    # -- snapshots, scoring, sampling ------------------------------------------------------------
    def get_states(self, indices: Sequence[int] | None = None) -> list[GameState]:
        """Snapshots of all envs (or ``indices``), in order."""
        return self.engine.get_states(indices)

    def set_states(self, states: Sequence[GameState], indices: Sequence[int] | None = None) -> None:
        """Restore snapshots into all envs (or ``indices``); the next step continues from them."""
        idx = np.arange(self.num_envs) if indices is None else np.asarray(indices, dtype=np.int64)
        self.engine.set_states(states, idx)
        self._started = True

    def observe(self) -> tuple[Any, dict[str, Any]]:
        """Current observations and state info, without stepping (e.g. after ``set_states``)."""
        texts, info = self.engine.describe(self.engine.batch)
        return self.engine.observe(self.engine.batch, texts), _masked(info)

    def _batch_of(self, states: Sequence[GameState] | None) -> Batch:
        return self.engine.batch if states is None else self.engine.stack(states)

    def legal_masks(self, states: Sequence[GameState] | None = None) -> np.ndarray:
        """bool ``(len(states), num_actions)``: legal index actions of each state (default: the live envs)."""
        return self.engine.legal_masks(self._batch_of(states))

    def terminal(self, states: Sequence[GameState] | None = None) -> np.ndarray:
        """bool ``(len(states),)``: which states are finished games (default: the live envs)."""
        return self.engine.terminal(self._batch_of(states))

    def solve(self, states: Sequence[GameState]) -> np.ndarray | None:
        """The game's own solver on ``states``: one index action each (-1: none), or ``None`` when the
        game has no solver (see ``Game.solve``). Nothing is changed or drawn."""
        return self.game.solve(self.engine.stack(states))

    def board_texts(self, states: Sequence[GameState]) -> list[str]:
        """Ground-truth board text of each snapshot (no env is touched)."""
        batch = self.engine.stack(states)
        return [self.game.board_text(batch, i) for i in range(len(states))]

    def render_states(self, states: Sequence[GameState]) -> np.ndarray:
        """Frames ``(len(states), H, W, 3)`` of snapshots, composed in one batch."""
        return self.engine.frames(self.engine.stack(states))

    def score(self, states: Sequence[GameState], answers: Any, *,
              return_states: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
        """Counterfactual step: apply ``answers[i]`` to a copy of ``states[i]``.

        Live envs are untouched and nothing is drawn. ``states`` and ``answers`` may have any
        length (e.g. 128 states x 5 answers, each state repeated). Identical (state, answer) pairs
        always give identical results because the random stream is part of the state.

        Returns ``(rewards, infos)`` where infos holds ``action``, ``action_status``, ``success``,
        ``gain``, ``terminated``, ``end_reason``, game details, and with ``return_states=True``
        ``next_state`` (list of :class:`GameState`).
        """
        states = list(states)
        answers = self._as_actions(answers)
        if len(states) != len(answers):
            raise ValueError(f"got {len(states)} states but {len(answers)} answers")
        batch = self.engine.stack(states)
        tr = self.engine.transition(batch, answers)
        infos: dict[str, Any] = {**tr.info, "terminated": tr.terminated}
        if return_states:
            infos["next_state"] = self.engine.unstack(batch)
        return tr.reward, infos

    def random_steps(self, k: int, *, reset_finished: bool = True) -> None:
        """Advance every env by ``k`` uniformly random index actions without drawing anything.

        This is the paper's state sampler (reset, then K random moves). Envs whose game ends on
        the way restart (``reset_finished=True``) or stay put.
        """
        if not self._started:
            raise gym.error.ResetNeeded("call reset() before random_steps()")
        game, batch = self.game, self.engine.batch
        active = np.ones(self.num_envs, dtype=bool)
        for _ in range(params.integer("k", k, 0)):
            idx = self.np_random.integers(0, game.num_actions, size=self.num_envs)
            _, over, _ = self.engine.advance(batch, game.decode(idx), active, counted=active)
            if over.any():
                if reset_finished:
                    done = np.flatnonzero(over)
                    self.engine.deal(done, rngmod.seed_from(self.np_random, len(done)))
                else:
                    active &= ~over


def _select(obs: Any, i: int) -> Any:
    if isinstance(obs, dict):
        return {k: _select(v, i) for k, v in obs.items()}
    if isinstance(obs, tuple):
        return obs[i]
    return obs[i].copy()


def _scatter(values: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    """Rows ``idx`` of a length-``n`` array hold ``values``; the other rows are empty."""
    if values.dtype == object:
        out = np.full(n, None, dtype=object)
    else:
        out = np.zeros((n, *values.shape[1:]), dtype=values.dtype)
    out[idx] = values
    return out

