"""``VLMGymVectorEnv``: a native batched ``gymnasium.vector.VectorEnv``.

``gym.make_vec("VLMGym/...", num_envs=n)`` returns this class (it is the registered
``vector_entry_point``): all envs advance in one set of array operations and frames are composed
for the whole batch at once. Extras beyond Gymnasium: snapshots (``get_states``/``set_states``),
counterfactual ``score`` for GRPO groups, and ``random_steps`` for the paper's state sampler.

Every autoreset mode of Gymnasium is supported (``docs/api.md`` says what each returns). Env ``i``
deals its games from a generator of its own, seeded like ``VLMGymEnv.reset(seed=seed + i)``, so a
vector env equals a ``SyncVectorEnv`` of single envs seeded alike, new games after autoresets
included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

#: Accepted spellings of each autoreset mode (besides the enum members and their values).
_AUTORESET = {"next_step": AutoresetMode.NEXT_STEP, "same_step": AutoresetMode.SAME_STEP,
              "disabled": AutoresetMode.DISABLED}


def autoreset_mode_of(value: AutoresetMode | str) -> AutoresetMode:
    """``AutoresetMode.X``, its value (``"NextStep"``) or its name (``"next_step"``) -> the mode."""
    if isinstance(value, AutoresetMode):
        return value
    if isinstance(value, str):
        key = value.strip().lower()
        for mode in AutoresetMode:
            if key in (mode.value.lower(), mode.name.lower()):
                return mode
    raise ValueError(f"autoreset_mode must be one of {', '.join(map(repr, _AUTORESET))} (or an "
                     f"AutoresetMode), got {value!r}")


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
        autoreset_mode: what happens to an env whose episode ended (``"same_step"``,
            ``"next_step"``, ``"disabled"`` or an ``AutoresetMode``):

            - ``SAME_STEP`` (default): it restarts inside the step; its last observation and info
              are in ``infos["final_obs"]``/``["final_info"]``. Every answer is played, which is
              what the evaluation harness and GRPO scoring need.
            - ``NEXT_STEP`` (Gymnasium's default, needed by its observation wrappers): it restarts
              on the next step, which returns its new first observation with reward 0,
              terminated/truncated False, ``infos["autoreset"]`` True and ``action_status ==
              "ignored"``: the answer given in that step is not played.
            - ``DISABLED``: it stays finished until ``reset(options={"reset_mask": mask})``.
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
        mode = autoreset_mode_of(autoreset_mode)
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
        # env i's own generator of new games (a single env's np_random); None until env i is reset
        self._dealers: list[np.random.Generator | None] = [None] * self.num_envs
        # NEXT_STEP: envs whose episode ended in the last step and that restart in the next one
        self._pending = np.zeros(self.num_envs, dtype=bool)

    # -- gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | Sequence[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset all envs, or those in ``options["reset_mask"]``.

        ``seed``: an int (env ``i`` gets ``seed + i``, matching ``VLMGymEnv.reset(seed=seed + i)``),
        a list with one seed (or ``None``) per reset env, or ``None`` (each env goes on with its
        own generator, as a single env does).
        ``options["states"]``: a list of :class:`GameState` to start from instead of new games.
        A reset env's pending ``NEXT_STEP`` autoreset is cancelled.
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
                seeds: list[Any] | None = [base + int(i) for i in idx]
            elif seed is None:
                seeds = None
            elif isinstance(seed, (Sequence, np.ndarray)) and not isinstance(seed, (str, bytes)):
                seeds = list(seed)
            else:
                raise ValueError(f"seed must be an int, a list with one seed (or None) per reset env, or None; "
                                 f"got {seed!r}")
            self._seed_dealers(idx, seeds)
            self._deal(idx)
        self._pending[idx] = False
        self._started = True
        return mask

    def _seed_dealers(self, idx: np.ndarray, seed: list[Any] | None) -> None:
        """Env ``idx[j]`` deals from ``default_rng(seed[j])`` from now on (``None``: keep its own)."""
        seeds = [None] * len(idx) if seed is None else seed
        if len(seeds) != len(idx):
            raise ValueError(f"expected {len(idx)} seeds, got {len(seeds)}")
        for s in seeds:
            if s is not None and (isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0):
                raise ValueError(f"seeds must be non-negative integers or None, got {s!r}")
        for i, s in zip(idx, seeds):
            if s is not None:
                self._dealers[i] = np.random.default_rng(int(s))

    def _deal(self, idx: np.ndarray) -> None:
        """New games in envs ``idx``, each drawn from the env's own generator."""
        streams = np.empty(len(idx), dtype=np.uint64)
        for j, i in enumerate(idx):
            dealer = self._dealers[i]
            if dealer is None:  # never seeded: a generator drawn from the vector env's own
                dealer = self._dealers[i] = np.random.default_rng(int(rngmod.seed_from(self.np_random)))
            streams[j] = rngmod.seed_from(dealer)
        self.engine.deal(idx, streams)

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Apply one answer per env; finished envs restart as ``autoreset_mode`` says."""
        if not self._started:
            raise gym.error.ResetNeeded("call reset() before step()")
        engine = self.engine
        batch = engine.batch
        # NEXT_STEP: envs that ended in the last step restart now; their answers are not played
        restart = self._pending.copy()
        tr = engine.transition(batch, self._as_actions(actions), skip=restart if restart.any() else None)
        terminated = tr.terminated & ~restart
        truncated = engine.truncated(batch, terminated) & ~restart  # the state's steps, as in the single env
        done = terminated | truncated
        final: dict[str, Any] = {}
        if restart.any():
            self._deal(np.flatnonzero(restart))
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            self._pending = done.copy()
        elif self.autoreset_mode == AutoresetMode.SAME_STEP and done.any():
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
            self._deal(idx)
            restart = done
        texts, state_info = engine.describe(batch)
        obs = engine.observe(batch, texts)
        infos = {**_masked({**state_info, **tr.info, "autoreset": restart.copy()}), **final}
        return obs, tr.reward.copy(), terminated, truncated, infos

    def _as_actions(self, actions: Any) -> Any:
        if self.engine.action_mode == "text" and isinstance(actions, np.ndarray):
            return list(actions)
        return actions

    def render(self) -> tuple[np.ndarray, ...] | None:
        """One ``(H, W, 3)`` frame per env (``render_mode="rgb_array"``), as a tuple like every
        Gymnasium vector env's (its ``RecordVideo`` needs a sequence); ``np.stack`` gives one array.
        The frames are composed in one batch."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array'")
            return None
        return tuple(self.engine.frames(self.engine.batch))

    # -- snapshots, scoring, sampling ------------------------------------------------------------
    def get_states(self, indices: Sequence[int] | None = None) -> list[GameState]:
        """Snapshots of all envs (or ``indices``), in order."""
        return self.engine.get_states(indices)

    def set_states(self, states: Sequence[GameState], indices: Sequence[int] | None = None) -> None:
        """Restore snapshots into all envs (or ``indices``); the next step continues from them
        (a pending ``NEXT_STEP`` autoreset of those envs is cancelled)."""
        idx = np.arange(self.num_envs) if indices is None else np.asarray(indices, dtype=np.int64)
        self.engine.set_states(states, idx)
        self._pending[idx] = False
        self._started = True

    def get_rng_state(self) -> dict[str, Any]:
        """The state of the env's generators as JSON data: its own (``np_random``: random actions of
        :meth:`random_steps`, first streams of never-seeded envs) and each env's generator of new
        games. With :meth:`get_states` it is all an exact continuation needs (``vlmgym eval --resume``)."""
        return {"np_random": self.np_random.bit_generator.state,
                "dealers": [None if d is None else d.bit_generator.state for d in self._dealers]}

    def set_rng_state(self, state: Mapping[str, Any]) -> None:
        """Restore generators saved by :meth:`get_rng_state` (of an env with as many envs)."""
        dealers = state.get("dealers") if isinstance(state, Mapping) else None
        if not isinstance(dealers, list) or len(dealers) != self.num_envs or "np_random" not in state:
            raise ValueError(f"expected get_rng_state() of an env with {self.num_envs} envs, got {state!r:.200}")
        self.np_random = _generator(state["np_random"])
        self._dealers = [None if d is None else _generator(d) for d in dealers]

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
        the way restart (``reset_finished=True``) or stay put. A pending ``NEXT_STEP`` autoreset
        happens first (with ``reset_finished``), as the next step would do it.
        """
        if not self._started:
            raise gym.error.ResetNeeded("call reset() before random_steps()")
        game, batch = self.game, self.engine.batch
        active = np.ones(self.num_envs, dtype=bool)
        if self._pending.any():
            if reset_finished:
                self._deal(np.flatnonzero(self._pending))
                self._pending[:] = False
            else:
                active &= ~self._pending
        for _ in range(params.integer("k", k, 0)):
            idx = self.np_random.integers(0, game.num_actions, size=self.num_envs)
            _, over, _ = self.engine.advance(batch, game.decode(idx), active, counted=active)
            if over.any():
                if reset_finished:
                    self._deal(np.flatnonzero(over))
                else:
                    active &= ~over


def _generator(state: Mapping[str, Any]) -> np.random.Generator:
    """A numpy generator in ``state`` (a ``bit_generator.state`` dict)."""
    name = state.get("bit_generator") if isinstance(state, Mapping) else None
    if name not in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"):
        raise ValueError(f"not a numpy bit generator state: {state!r:.200}")
    bit_generator = getattr(np.random, name)()
    bit_generator.state = dict(state)
    return np.random.Generator(bit_generator)


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

