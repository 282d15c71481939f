"""The batched engine behind both environment classes.

``Engine`` owns a batch of game states (a dict of arrays with a leading env axis) and turns
actions into transitions, rewards, observations and info. :class:`~vlmgym.envs.single.VLMGymEnv`
is an engine with one env; :class:`~vlmgym.envs.vector.VLMGymVectorEnv` exposes the batch.
Counterfactual scoring (``score``) runs the same transition on a copy of stacked snapshots.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from vlmgym.core import params
from vlmgym.core import rng as rngmod
from vlmgym.core.actions import ActionCodec
from vlmgym.core.game import COMMON_FIELDS, COUNTER_MAX, Batch, Game, Outcome, game_class
from vlmgym.core.layout import MAX_CELL_PX, MAX_IMAGE_SIDE, MIN_CELL_PX, PAPER_IMAGE_SIZE, BoardLayout
from vlmgym.core.render import Renderer
from vlmgym.core.state import (
    GameState,
    StateError,
    ensure_valid,
    freeze_rules,
    stack_states,
    unstack_states,
    validate_state,
)

__all__ = ["Engine", "EngineViews", "Transition", "make_game", "OBS_MODES", "ACTION_MODES", "REWARD_MODES",
           "TEXT_CHARSET", "MAX_NUM_ENVS", "MAX_BATCH_BYTES"]

OBS_MODES = ("image", "text", "image+text")
ACTION_MODES = ("text", "index")
REWARD_MODES = ("binary", "score")
#: Characters of text spaces: printable ASCII including space, punctuation, tab and newline.
TEXT_CHARSET = frozenset(string.printable)
_ANSWER_MAX_LENGTH = 8192
# info["action_status"] by code: 0 unparsable, 1 parsed but illegal, 2 applied, 3 ignored (the env
# restarted in this step under NEXT_STEP autoreset, so its answer was never read)
_STATUS = np.array(["unparsable", "illegal", "ok", "ignored"], dtype=object)
_IGNORED = 3


#: Most envs in one batch (per-env work per step is a few Python calls: board text, parsing).
MAX_NUM_ENVS = 1 << 20
#: Most memory a batch may need for its states, one batch of frames and board texts (estimated
#: before anything is allocated; the error says how much ``num_envs`` would need).
MAX_BATCH_BYTES = 16 << 30


def make_game(game: str | Game, kwargs: Mapping[str, Any]) -> Game:
    """Build a game from its registered name and keyword arguments (or pass an instance)."""
    if isinstance(game, Game):
        if kwargs:
            raise ValueError(f"game kwargs {sorted(kwargs)} given with a Game instance")
        return game
    cls = game_class(game)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        import inspect

        allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        raise ValueError(f"invalid arguments for game {game!r}: {exc}. Allowed: {allowed}") from None


@dataclass
class Transition:
    """Result of applying one action per env (arrays of length B)."""

    reward: np.ndarray        # float64
    terminated: np.ndarray    # bool
    info: dict[str, np.ndarray]


class Engine:
    """A batch of ``num_envs`` games of one kind, with observation and reward settings.

    Args:
        game: a :class:`~vlmgym.core.game.Game`.
        num_envs: batch size.
        obs_mode: ``"image"``, ``"text"`` (the board text) or ``"image+text"`` (a dict).
        action_mode: ``"text"`` (free model replies) or ``"index"`` (flat ``Discrete`` indices).
        reward_mode: ``"binary"`` (+1 success / -1 otherwise) or ``"score"`` (score gained).
        cell_px: pixel size of one board cell (multiples of 28 keep images VLM-friendly).
        show_coords: draw row/column numbers on the board edges.
        hud: show the score line above the board (``None``: the game's default).
        image_size: ``(width, height)`` to fit the board into, or ``"paper"`` for 640x840.
        max_episode_steps: the step budget: an episode is truncated once its state's ``steps``
            reach it (``None``: no budget). Counting the state's steps, not the calls since the
            last reset, makes a restored snapshot keep its budget.
    """

    def __init__(self, game: Game, num_envs: int, *, obs_mode: str = "image",
                 action_mode: str = "text", reward_mode: str = "binary", cell_px: int = 56,
                 show_coords: bool = False, hud: bool | None = None,
                 image_size: tuple[int, int] | str | None = None, max_episode_steps: int | None = None):
        num_envs = params.integer("num_envs", num_envs, 1)
        if not isinstance(getattr(game, "codec", None), ActionCodec):
            raise TypeError(f"{type(game).__qualname__} must declare its action codec: codec = DirectionCodec(), "
                            "PairCodec() or CellCodec(...) (vlmgym.core.actions)")
        self.game = game
        self.obs_mode = params.choice("obs_mode", obs_mode, OBS_MODES)
        self.action_mode = params.choice("action_mode", action_mode, ACTION_MODES)
        self.reward_mode = params.choice("reward_mode", reward_mode, REWARD_MODES)
        cell_px = params.integer("cell_px", cell_px, MIN_CELL_PX, MAX_CELL_PX)
        self.show_coords = params.boolean("show_coords", show_coords)
        hud = params.optional_boolean("hud", hud)
        self.hud = game.hud_default if hud is None else hud
        if isinstance(image_size, str):
            if image_size != "paper":
                raise ValueError(f"image_size must be (width, height) or 'paper', got {image_size!r}")
            image_size = PAPER_IMAGE_SIZE
        if image_size is None:
            self.layout = BoardLayout.compute(game.rows, game.cols, cell_px, show_coords=self.show_coords,
                                              hud=self.hud)
        else:
            image_size = params.size_pair("image_size", image_size, 1, MAX_IMAGE_SIDE)
            self.layout = BoardLayout.fit(game.rows, game.cols, image_size, show_coords=self.show_coords,
                                          hud=self.hud)
        self.cell_px = self.layout.cell_px
        self.image_size = image_size
        self.num_envs = self._check_batch(num_envs)
        self.max_episode_steps = (None if max_episode_steps is None else
                                  params.integer("max_episode_steps", max_episode_steps, 1, COUNTER_MAX))
        # Normalised once, the way snapshots normalise theirs, so comparisons are like for like
        # (a rule holding a tuple comes back from a snapshot as a list).
        self.rules = freeze_rules(game.rules)
        self.prompt = game.prompt(self.obs_mode)
        self.batch: Batch = game.new_batch(self.num_envs)
        self._renderer: Renderer | None = None
        self.frames_composed = 0  # frames composed so far (the sampler's "draws once" is tested on it)

    def _check_batch(self, n: int) -> int:
        """``n`` if a batch of ``n`` envs fits the limits; the message says what it would need."""
        spec = {**COMMON_FIELDS, **self.game.state_fields(self.game.rules)}
        state = sum(int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize for shape, dtype in spec.values())
        # a batch of frames, and the batched observation space's low and high bounds (Gymnasium
        # stores them as arrays of the batch's shape), plus the board text and info entries
        frame = 3 * int(np.prod(self.layout.image_shape)) if self.obs_mode != "text" else 0
        per_env = state + frame + self.game.text_max_length() + 256
        each = f"{params.format_bytes(per_env)} per env for its state, frames and board text"
        if n > MAX_NUM_ENVS:
            raise ValueError(f"num_envs must be an integer from 1 to {MAX_NUM_ENVS}, got {n}; it would need about "
                             f"{params.format_bytes(n * per_env)} ({each})")
        params.check_memory(f"num_envs={n}", n * per_env, MAX_BATCH_BYTES,
                            f"{each}; use fewer envs or smaller images")
        return n

    # -- spaces ------------------------------------------------------------------------------
    @property
    def renderer(self) -> Renderer:
        if self._renderer is None:
            self._renderer = Renderer(
                self.game.sprites(self.cell_px), background=self.game.background_color(),
                label_color=self.game.label_color(), layout=self.layout)
        return self._renderer

    def image_shape(self) -> tuple[int, int, int]:
        return self.layout.image_shape

    def single_observation_space(self) -> spaces.Space[Any]:
        image = spaces.Box(0, 255, self.image_shape(), dtype=np.uint8)
        text = spaces.Text(max_length=self.game.text_max_length(), min_length=0,
                           charset=TEXT_CHARSET)
        if self.obs_mode == "image":
            return image
        if self.obs_mode == "text":
            return text
        return spaces.Dict({"image": image, "text": text})

    def single_action_space(self) -> spaces.Space[Any]:
        if self.action_mode == "index":
            return spaces.Discrete(self.game.num_actions)
        return spaces.Text(max_length=_ANSWER_MAX_LENGTH, min_length=0, charset=TEXT_CHARSET)

    # -- state management --------------------------------------------------------------------
    def deal(self, idx: np.ndarray, seeds: np.ndarray) -> None:
        """Start new games in envs ``idx`` with stream states ``seeds`` (uint64)."""
        sub = {k: v[idx] for k, v in self.batch.items()}
        for name in ("score", "steps", "successes"):
            sub[name][:] = 0
        sub["rng"][:] = seeds
        self.game.deal(sub)
        for k, v in sub.items():
            self.batch[k][idx] = v

    def get_states(self, idx: Sequence[int] | np.ndarray | None = None) -> list[GameState]:
        # the live batch only ever holds dealt games, validated states and their successors
        return unstack_states(self.game.name, self.rules, self.batch, idx, valid=True)

    def unstack(self, batch: Batch) -> list[GameState]:
        """Snapshots of every env of ``batch`` (a batch of this game, stepped from validated states)."""
        return unstack_states(self.game.name, self.rules, batch, valid=True)

    def stack(self, states: Sequence[GameState]) -> Batch:
        """Stack snapshots into batch arrays, checking they belong to this game."""
        states = list(states)
        for s in states:
            if not isinstance(s, GameState):
                raise TypeError(f"expected GameState, got {type(s).__name__}")
            # states of this env share its frozen rules object: identity first, equality otherwise
            if s.game != self.game.name or (s.rules is not self.rules and s.rules != self.rules):
                raise StateError(
                    f"state is for game {s.game!r} with rules {dict(s.rules)}, but this env plays "
                    f"{self.game.name!r} with rules {dict(self.rules)}")
            ensure_valid(s)  # once per state object: what from_bytes would refuse is refused here
        batch = stack_states(states)
        expected = set(COMMON_FIELDS) | set(self.game.state_fields(self.rules))
        if set(batch) != expected:
            raise StateError(f"state fields {sorted(batch)} do not match {sorted(expected)}")
        return batch

    def set_states(self, states: Sequence[GameState], idx: np.ndarray) -> None:
        batch = self.stack(states)
        if len(idx) != len(states):
            raise ValueError(f"got {len(states)} states for {len(idx)} envs")
        for k, v in batch.items():
            self.batch[k][idx] = v

    def make_state(self, fields: dict[str, Any], rng: Any, fallback: np.random.Generator) -> GameState:
        """A state of this game from field values, validated like ``GameState.from_bytes``.

        ``fields`` are the game's state arrays (array-likes, converted to the field's dtype when
        every value fits) and optionally ``score``/``steps``/``successes`` (default 0); ``rng`` is
        the stream state (an unsigned 64-bit integer), or ``None`` for a fresh one from
        ``fallback``.
        """
        spec = {**COMMON_FIELDS, **self.game.state_fields(self.rules)}
        name = self.game.name
        unknown = sorted(set(fields) - set(spec) - {"rng"})
        if unknown:
            raise StateError(f"{name} states have no field(s) {unknown}; fields: {sorted(spec)}")
        missing = sorted(set(spec) - set(COMMON_FIELDS) - set(fields))
        if missing:
            raise StateError(f"make_state for {name} needs {missing} (score, steps and successes default to 0, "
                             "rng to a fresh stream)")
        values: dict[str, Any] = {"score": 0, "steps": 0, "successes": 0, **fields}
        values["rng"] = rngmod.seed_from(fallback) if rng is None else rng
        arrays = {k: _as_field(name, k, v, spec[k][1]) for k, v in values.items()}
        state = GameState(name, self.rules, arrays)
        validate_state(state)
        return state

    # -- actions -----------------------------------------------------------------------------
    def decode_actions(self, actions: Any, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Actions from the user -> (int64 (n, arity) array, active mask, parsed objects, errors)."""
        game = self.game
        arr = np.zeros((n, game.action_arity), dtype=np.int64)
        parsed = np.empty(n, dtype=object)
        if self.action_mode == "index":
            idx = self.check_index_actions(actions, n)
            arr[:] = game.decode(idx)
            for i, action in enumerate(game.from_arrays(arr)):
                parsed[i] = action
            return arr, np.ones(n, dtype=bool), parsed, None
        if isinstance(actions, str) or not isinstance(actions, Sequence) and not isinstance(actions, np.ndarray):
            raise TypeError(f"text actions must be a sequence of {n} strings, got {type(actions).__name__}")
        if len(actions) != n:
            raise ValueError(f"expected {n} answers, got {len(actions)}")
        for i, text in enumerate(actions):
            if not isinstance(text, str):
                raise TypeError(f"in action_mode='text' an action is the model's reply (str); "
                                f"got {type(text).__name__} at position {i}")
        results = [game.parse(text) for text in actions]
        values = [p.action for p in results]
        rows = [i for i, v in enumerate(values) if v is not None]
        active = np.zeros(n, dtype=bool)
        if rows:
            active[rows] = True
            arr[rows] = game.to_arrays([v for v in values if v is not None])
        # fromiter keeps tuples as single objects (np.array would unpack them)
        parsed = np.fromiter(values, dtype=object, count=n)
        errors = np.fromiter((p.reason for p in results), dtype=object, count=n)
        return arr, active, parsed, errors

    def check_index_actions(self, actions: Any, n: int) -> np.ndarray:
        space = f"Discrete({self.game.num_actions})"
        a = np.asarray(actions)
        if a.dtype == object or not (np.issubdtype(a.dtype, np.integer)):
            raise TypeError(f"in action_mode='index' actions must be integers of {space}, got "
                            f"{a.dtype} values ({type(actions).__name__})")
        if a.shape != (n,):
            raise ValueError(f"expected {n} index actions of {space}, got shape {a.shape}")
        bad = (a < 0) | (a >= self.game.num_actions)
        if bad.any():
            raise ValueError(f"action {a[bad][0]} is outside {space}")
        return a.astype(np.int64)

    # -- transitions -------------------------------------------------------------------------
    def advance(self, batch: Batch, arr: np.ndarray, active: np.ndarray,
                counted: np.ndarray | None = None) -> tuple[Outcome, np.ndarray, np.ndarray]:
        """Apply decoded actions and keep the common counters; returns (outcome, over, reason).

        ``counted`` marks the envs whose step counter advances (default: all, since an
        unparsable answer still uses up a step).
        """
        out = self.game.apply(batch, arr, active)
        _saturating_add(batch["steps"], 1 if counted is None else counted)
        _saturating_add(batch["score"], out.gain)
        _saturating_add(batch["successes"], out.success)
        terminated, reason = self.game.is_over(batch)
        return out, terminated, reason

    def truncated(self, batch: Batch, terminated: np.ndarray) -> np.ndarray:
        """bool ``(B,)``: the step budget is used up (the state's ``steps`` reached
        ``max_episode_steps``) in a game that did not end; the one definition both envs use."""
        if self.max_episode_steps is None:
            return np.zeros(len(terminated), dtype=bool)
        return (batch["steps"] >= self.max_episode_steps) & ~np.asarray(terminated, dtype=bool)

    def transition(self, batch: Batch, actions: Any, skip: np.ndarray | None = None) -> Transition:
        """Apply one action per env of ``batch`` in place (no pictures).

        ``skip`` (bool, optional) marks envs whose action is ignored: every action is still
        checked, but those envs are left untouched (not even their step counter moves) and report
        reward 0, ``action_status == "ignored"`` and no action.
        """
        n = len(batch["rng"])
        arr, active, parsed, errors = self.decode_actions(actions, n)
        if skip is not None:
            active &= ~skip
        out, terminated, reason = self.advance(batch, arr, active, counted=None if skip is None else ~skip)
        if self.reward_mode == "binary":
            reward = np.where(out.success, 1.0, -1.0)
        else:
            reward = out.gain.astype(np.float64)
        code = active.astype(np.int8) + (active & out.legal)
        success, gain, details = out.success.astype(bool), out.gain.astype(np.int64), dict(out.info)
        if errors is not None:
            details["parse_error"] = errors
        if skip is not None and skip.any():
            code[skip] = _IGNORED
            reward[skip] = 0.0
            # the ignored answer: no action, no success, no gain, no details, no parse error
            for values in (parsed, success, gain, reason, *details.values()):
                values[skip] = None if values.dtype == object else 0
        info: dict[str, np.ndarray] = {
            "action": parsed,
            "action_status": _STATUS[code],
            "success": success,
            "gain": gain,
            "end_reason": reason,
            **details,
        }
        return Transition(reward=reward, terminated=terminated.astype(bool), info=info)

    def describe(self, batch: Batch) -> tuple[list[str], dict[str, np.ndarray]]:
        """Board texts and the state part of info for every env of ``batch``."""
        n = len(batch["rng"])
        texts = [self.game.board_text(batch, i) for i in range(n)]
        info: dict[str, np.ndarray] = {
            "prompt": np.array([self.prompt] * n, dtype=object),
            "board_text": np.array(texts, dtype=object),
            "score": batch["score"].copy(),
            "steps": batch["steps"].copy(),
        }
        if self.action_mode == "index":
            info["action_mask"] = self.game.legal_mask(batch)
        return texts, info

    def observe(self, batch: Batch, texts: list[str]) -> Any:
        """Observations for every env of ``batch`` (images composed here, and only here)."""
        image = None
        if self.obs_mode in ("image", "image+text"):
            image = self.frames(batch)
        if self.obs_mode == "image":
            return image
        if self.obs_mode == "text":
            return tuple(texts)
        return {"image": image, "text": tuple(texts)}

    def frames(self, batch: Batch) -> np.ndarray:
        self.frames_composed += len(batch["rng"])
        hud = batch["score"] if self.hud else None
        return self.renderer.compose(self.game.sprite_ids(batch), hud)

    def legal_masks(self, batch: Batch) -> np.ndarray:
        """bool ``(B, num_actions)``: the legal index actions of every env of ``batch``."""
        return self.game.legal_mask(batch)

    def terminal(self, batch: Batch) -> np.ndarray:
        """bool ``(B,)``: which envs of ``batch`` are in a finished game."""
        return np.asarray(self.game.is_over(batch)[0], dtype=bool)


class EngineViews:
    """The public views of an env's engine that the single and the vector env share."""

    engine: Engine
    np_random: np.random.Generator

    @property
    def layout(self) -> BoardLayout:
        """Where the board and its cells sit in every frame (``cell_box``, ``cell_at``)."""
        return self.engine.layout

    @property
    def frames_composed(self) -> int:
        """Frames composed by this env so far (observations, renders, ``render_states``)."""
        return self.engine.frames_composed

    def make_state(self, *, rng: int | None = None, **fields: Any) -> GameState:
        """A state built from a position, e.g. ``make_state(board=...)``, to curate test positions.

        ``fields`` are the game's state arrays as a snapshot stores them (see
        ``get_state().arrays``; 2048's board holds exponents) plus optionally ``score``, ``steps``
        and ``successes`` (default 0). ``rng`` is the random stream's state; without it a fresh
        stream is drawn from the env's generator (seed it with ``reset(seed=...)``). The state is
        validated exactly like ``GameState.from_bytes`` (``StateError`` says what is wrong); start
        from it with ``set_state(s)``/``set_states``, ``reset(options=...)`` or score answers on it.
        """
        return self.engine.make_state(fields, rng, self.np_random)


def _saturating_add(counter: np.ndarray, amount: Any) -> None:
    """``counter += amount`` in place, held in ``0..COUNTER_MAX`` (counters never wrap or go negative).

    The amount is clipped to ``±COUNTER_MAX`` first, so the sum of two values within the limit
    stays inside int64.
    """
    step = np.clip(np.asarray(amount, dtype=np.int64), -COUNTER_MAX, COUNTER_MAX)
    np.clip(counter + step, 0, COUNTER_MAX, out=counter)


def _as_field(game: str, name: str, value: Any, dtype: np.dtype) -> np.ndarray:
    """``value`` as an array of ``dtype``, refusing values the dtype cannot hold exactly."""
    a = np.asarray(value)
    if a.dtype == dtype:
        return a
    if a.dtype == object or a.dtype.kind not in "biu":
        raise StateError(f"{game} field {name!r} must hold {dtype} values, got {a.dtype}")
    if a.size:
        lo, hi = (0, 1) if dtype.kind == "b" else (np.iinfo(dtype).min, np.iinfo(dtype).max)
        if int(a.min()) < lo or int(a.max()) > hi:
            raise StateError(f"{game} field {name!r} is {dtype}: values must be in {lo}..{hi}, got "
                             f"{int(a.min())}..{int(a.max())}")
    return a.astype(dtype)
