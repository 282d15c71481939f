"""The Game protocol: batched rules over numpy arrays, and everything a game declares about itself.

A game is a set of pure, batched state transitions. A *batch* is a ``dict`` of arrays whose leading
axis is the environment index; every game's batch also has the common fields of
:data:`COMMON_FIELDS` (random stream, score and counters), which the engine maintains. Rules mutate
the batch in place and never draw pictures; they read randomness only from ``batch["rng"]`` via
:mod:`vlmgym.core.rng`.

Everything specific to a game lives in its class, so nothing outside the game's file needs to know
which game it is: its action codec (:attr:`Game.codec`: how answers are read and written, stored,
offered as multi-turn tools, outlined and entered by hand), its evaluation metric and the paper's
warm-up (:attr:`Game.metric`, :attr:`Game.paper_warmup_steps`), the state sampler's K
(:attr:`Game.sampler_steps`), an optional solver (:meth:`Game.solve`, used by the ``oracle``
policy), the cold-start reasoning text (:meth:`Game.explain`), the prompt and the board text.

To add a game: one file with a :class:`Game` subclass decorated with :func:`register_game`, one
registration call (:func:`vlmgym.register_env`), then :func:`vlmgym.testing.check_game`. See the
"Add a game" section of ``docs/api.md`` for a complete example.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from vlmgym.core.actions import Action, ActionCodec, Parsed
from vlmgym.core.answer import parse_answer
from vlmgym.core.explain import Explanation
from vlmgym.core.registry import game_class, register_game
from vlmgym.core.state import GameState, StateError

__all__ = ["COMMON_FIELDS", "COUNTER_MAX", "METRICS", "Batch", "FieldSpec", "Game", "Outcome", "Scorer", "game_class",
           "observation_sentence", "register_game"]

Batch = dict[str, np.ndarray]
FieldSpec = tuple[tuple[int, ...], np.dtype]
#: ``score(states, answers) -> (rewards, infos)``: counterfactual scoring, as
#: ``VLMGymVectorEnv.score`` does it (what :meth:`Game.explain` checks moves with).
Scorer = Callable[[Sequence[GameState], Sequence[str]], tuple[np.ndarray, dict[str, Any]]]

#: Fields every game state has, maintained by the engine (per env: 0-d arrays).
COMMON_FIELDS: dict[str, FieldSpec] = {
    "rng": ((), np.dtype(np.uint64)),        # SplitMix64 stream, see vlmgym.core.rng
    "score": ((), np.dtype(np.int64)),       # cumulative game score (2048: sum of merged values)
    "steps": ((), np.dtype(np.int64)),       # steps taken this episode (every answer counts)
    "successes": ((), np.dtype(np.int64)),   # steps whose move succeeded (reward +1 in binary mode)
}

#: Largest value of the ``score``, ``steps`` and ``successes`` counters. They saturate there
#: instead of wrapping (the engine adds at most this much per step, so the sum never overflows
#: int64), and snapshots holding more are refused: a state that loads has successors that load.
COUNTER_MAX = (1 << 62) - 1

#: Evaluation metrics a game can declare (per run, summed over the steps): ``successes`` counts
#: successful moves, ``score_gain`` sums the score gained.
METRICS = ("successes", "score_gain")


def observation_sentence(obs_mode: str, text_layout: str) -> str:
    """The prompt sentence saying how the board reaches the model in ``obs_mode``.

    ``text_layout`` describes the board text, e.g. "cells separated by '|', '-' for an empty cell".
    """
    if obs_mode == "image":
        return "The image shows the current board."
    if obs_mode == "text":
        return f"The current board is given as text: one line per row, {text_layout}."
    if obs_mode == "image+text":
        return "The image shows the current board; the same board is also given as text."
    raise ValueError(f"obs_mode must be 'image', 'text' or 'image+text', got {obs_mode!r}")


@dataclass
class Outcome:
    """What :meth:`Game.apply` reports per env (arrays of length B)."""

    legal: np.ndarray       # bool: the action was a legal move (state changed as the rules say)
    success: np.ndarray     # bool: the paper's success criterion (reward +1 in binary mode)
    gain: np.ndarray        # int64: score gained by this step
    info: dict[str, np.ndarray] = field(default_factory=dict)  # game-specific per-env details


class Game(abc.ABC):
    """Base class of every game. Subclasses document themselves gymnasium-style.

    Subclass constructors take the game's keyword arguments (validated, ``ValueError`` naming the
    allowed values) and set :attr:`rules` (plain JSON data that determines state shapes and legal
    values), :attr:`rows`, :attr:`cols` and :attr:`num_actions`.
    """

    name: ClassVar[str] = ""
    #: How actions are read, written, stored, offered as tools and entered by hand
    #: (:mod:`vlmgym.core.actions`). A class attribute, or set per instance in ``__init__``.
    codec: ActionCodec
    #: Random steps after reset used by the paper to sample training states (K).
    sampler_steps: ClassVar[int] = 0
    #: Random steps before the policy plays under ``vlmgym eval --protocol paper``.
    paper_warmup_steps: ClassVar[int] = 0
    #: The evaluation metric (one of :data:`METRICS`).
    metric: ClassVar[str] = "successes"
    #: Whether the HUD shows the score by default.
    hud_default: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.metric not in METRICS:
            raise ValueError(f"{cls.__qualname__}.metric must be one of {METRICS}, got {cls.metric!r}")
        for attr in ("sampler_steps", "paper_warmup_steps"):
            value = getattr(cls, attr)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{cls.__qualname__}.{attr} must be a non-negative int, got {value!r}")

    rules: dict[str, Any]
    rows: int
    cols: int
    num_actions: int

    # -- state layout ----------------------------------------------------------------------
    @classmethod
    @abc.abstractmethod
    def state_fields(cls, rules: Mapping[str, Any]) -> dict[str, FieldSpec]:
        """Game-specific fields (name -> (per-env shape, dtype)), without the common ones."""

    @classmethod
    def check_values(cls, rules: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        """Raise ``ValueError`` if values are out of range (shapes/dtypes are already checked)."""
        return None  # games without range constraints beyond dtype keep this default

    @classmethod
    def validate_state(cls, rules: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        """Full validation of one env's arrays against ``rules`` (raises ``StateError``)."""
        try:
            expected = {**COMMON_FIELDS, **cls.state_fields(rules)}
        except (KeyError, TypeError, ValueError) as exc:
            shown = repr(dict(rules))
            shown = shown if len(shown) <= 300 else shown[:297] + "..."  # rules of a hostile blob can be huge
            raise StateError(f"invalid rules for game {cls.name!r}: {shown} ({exc})") from None
        if set(arrays) != set(expected):
            got = repr(sorted(arrays))
            raise StateError(f"{cls.name} state must have fields {sorted(expected)}, got "
                             f"{got if len(got) <= 300 else got[:297] + '...'}")
        for name, (shape, dtype) in expected.items():
            a = arrays[name]
            if a.shape != tuple(shape) or a.dtype != dtype:
                raise StateError(
                    f"{cls.name} field {name!r} must be {dtype} of shape {tuple(shape)},"
                    f" got {a.dtype} of shape {a.shape}"
                )
        for name in ("score", "steps", "successes"):
            if not 0 <= int(arrays[name]) <= COUNTER_MAX:
                raise StateError(f"{cls.name} field {name!r} must be in 0..{COUNTER_MAX} (2**62 - 1), got "
                                 f"{int(arrays[name])}")
        try:
            cls.check_values(rules, arrays)
        except ValueError as exc:
            raise StateError(f"{cls.name} state out of range: {exc}") from None

    def new_batch(self, n: int) -> Batch:
        """Zero-filled batch arrays for ``n`` envs (common and game fields)."""
        spec = {**COMMON_FIELDS, **self.state_fields(self.rules)}
        return {k: np.zeros((n, *shape), dtype=dtype) for k, (shape, dtype) in spec.items()}

    # -- rules (batched, in place) ---------------------------------------------------------
    @abc.abstractmethod
    def deal(self, batch: Batch) -> None:
        """Start a fresh game in every env of ``batch`` (draw from ``batch["rng"]``).

        The dealt position must not be terminal.
        """

    @abc.abstractmethod
    def apply(self, batch: Batch, actions: np.ndarray, active: np.ndarray) -> Outcome:
        """Apply ``actions`` (int64, shape (B, arity)) where ``active``; others stay untouched.

        Out-of-board coordinates or rule violations are illegal moves: nothing changes, not even
        the random stream. The engine updates the common counters from the returned Outcome.
        """

    @abc.abstractmethod
    def legal_mask(self, batch: Batch) -> np.ndarray:
        """bool array (B, num_actions): which flat action indices are legal moves."""

    @abc.abstractmethod
    def is_over(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        """(terminated (B,) bool, end reason (B,) object array of str or None)."""

    # -- actions -----------------------------------------------------------------------------
    @property
    def action_kind(self) -> str:
        """The codec's kind name (``"direction"``, ``"pair"``, ``"cell"``); read-only."""
        return self.codec.kind

    @property
    def action_arity(self) -> int:
        return self.codec.arity

    def parse(self, text: str) -> Parsed:
        """Free model text -> action (see :mod:`vlmgym.core.answer`)."""
        return parse_answer(text, self.codec)

    @abc.abstractmethod
    def decode(self, index: np.ndarray) -> np.ndarray:
        """Flat action indices (B,) -> action arrays (B, arity)."""

    @abc.abstractmethod
    def encode(self, actions: np.ndarray) -> np.ndarray:
        """Action arrays (B, arity) -> flat indices (B,), -1 where outside the action space."""

    def to_array(self, action: Action) -> np.ndarray:
        """A parsed action -> its int64 row of length :attr:`action_arity`."""
        return self.codec.to_array(action)

    def to_arrays(self, actions: list[Action]) -> np.ndarray:
        """Many parsed actions -> int64 array (len, :attr:`action_arity`)."""
        return self.codec.to_arrays(actions)

    def from_arrays(self, arr: np.ndarray) -> list[Action]:
        """Inverse of :meth:`to_arrays` (python ints), for a whole batch at once."""
        return self.codec.from_arrays(arr)

    def from_array(self, row: np.ndarray) -> Action:
        """Inverse of :meth:`to_array` (python ints)."""
        return self.codec.from_array(row)

    def format_answer(self, action: Action) -> str:
        """The canonical answer text for ``action`` (what goes inside ``<answer>``)."""
        return self.codec.format(action)

    def index_answers(self, index: np.ndarray) -> list[str]:
        """Canonical answer texts (inside ``<answer>``) of flat action indices."""
        codec = self.codec
        return [codec.format(a) for a in codec.from_arrays(self.decode(np.asarray(index, dtype=np.int64)))]

    # -- solver and cold-start reasoning -------------------------------------------------------
    def solve(self, batch: Batch) -> np.ndarray | None:
        """The game's own solver: one flat action index per env (-1: no move), or ``None``.

        The ``oracle`` policy plays these moves; a game without a solver returns ``None`` (the
        default) and the oracle simulates every legal move instead, taking the best by
        counterfactual score (success first, then score gain). Must not read the random stream.
        """
        return None

    def explain(self, state: GameState, board_text: str, pick: Action | None, score: Scorer) -> Explanation:
        """The reasoning of the cold-start teacher for one state: a move and a ``<think>`` text.

        ``pick`` is the oracle's move (or ``None``); ``score`` scores answers on copies of states
        (``VLMGymVectorEnv.score``). Override to report what the game's solver checked; the
        default states that the pick succeeds (or gives no move when it does not).
        """
        if pick is None:
            return Explanation(None, None, "The solver found no move.", 0)
        answer = self.format_answer(pick)
        _, info = score([state], [f"<answer>{answer}</answer>"])
        if not bool(info["success"][0]):
            return Explanation(None, None, "No legal move of this position succeeds.", 1)
        return Explanation(pick, answer, f"Among the legal moves, {answer} succeeds (it gains "
                           f"{int(info['gain'][0])}). So I play {answer}.", 1)

    # -- text --------------------------------------------------------------------------------
    @abc.abstractmethod
    def board_text(self, batch: Batch, i: int) -> str:
        """Exact ground-truth description of env ``i``'s board (the perception target)."""

    @abc.abstractmethod
    def prompt(self, obs_mode: str) -> str:
        """Instruction for the model: rules, coordinates, answer format."""

    def text_max_length(self) -> int:
        """Upper bound on :meth:`board_text` length (for the observation space)."""
        return 64 * self.rows * self.cols + self.rows

    # -- pictures ----------------------------------------------------------------------------
    @abc.abstractmethod
    def sprites(self, cell_px: int) -> np.ndarray:
        """Atlas of cell pictures, uint8 (n, cell_px, cell_px, 3), drawn once (with the gap)."""

    @abc.abstractmethod
    def sprite_ids(self, batch: Batch) -> np.ndarray:
        """Atlas index of every cell, int (B, rows, cols)."""

    def background_color(self) -> tuple[int, int, int]:
        """Colour around and between cells."""
        return (40, 40, 40)

    def label_color(self) -> tuple[int, int, int]:
        """Colour of coordinate labels and the HUD."""
        return (235, 235, 235)
