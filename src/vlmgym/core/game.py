"""The Game protocol: batched rules over numpy arrays.

A game is a set of pure, batched state transitions. A *batch* is a ``dict`` of arrays whose leading
axis is the environment index; every game's batch also has the common fields of
:data:`COMMON_FIELDS` (random stream, score and counters), which the engine maintains. Rules mutate
the batch in place and never draw pictures; they read randomness only from ``batch["rng"]`` via
:mod:`vlmgym.core.rng`.

To add a game: subclass :class:`Game`, decorate it with :func:`register_game`, implement the
abstract methods, register ids in :mod:`vlmgym.registration`. The conformance tests then run every
registered id through the same checks.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np

from vlmgym.core.answer import Action, ActionKind, Parsed, parse_answer

__all__ = ["COMMON_FIELDS", "Batch", "FieldSpec", "Game", "Outcome", "game_class", "observation_sentence",
           "register_game"]

Batch = dict[str, np.ndarray]
FieldSpec = tuple[tuple[int, ...], np.dtype]

#: Fields every game state has, maintained by the engine (per env: 0-d arrays).
COMMON_FIELDS: dict[str, FieldSpec] = {
    "rng": ((), np.dtype(np.uint64)),        # SplitMix64 stream, see vlmgym.core.rng
    "score": ((), np.dtype(np.int64)),       # cumulative game score (2048: sum of merged values)
    "steps": ((), np.dtype(np.int64)),       # steps taken this episode (every answer counts)
    "successes": ((), np.dtype(np.int64)),   # steps whose move succeeded (reward +1 in binary mode)
}

_GAMES: dict[str, type[Game]] = {}
G = TypeVar("G", bound="type[Game]")


def register_game(name: str) -> Callable[[G], G]:
    """Class decorator: make a game class known by ``name`` (used by snapshots and the envs)."""

    def deco(cls: G) -> G:
        if name in _GAMES and _GAMES[name] is not cls:
            raise ValueError(f"game {name!r} is already registered by {_GAMES[name].__qualname__}")
        cls.name = name
        _GAMES[name] = cls
        return cls

    return deco


def game_class(name: str) -> type[Game]:
    """Look up a registered game class by name (``KeyError`` listing the known names)."""
    if name not in _GAMES:
        import vlmgym.games  # noqa: F401  (registers the built-in games)
    try:
        return _GAMES[name]
    except KeyError:
        raise KeyError(f"unknown game {name!r}; known games: {sorted(_GAMES)}") from None


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
    #: "direction" (answers like ``2``) or "pair" (answers like ``(r1, c1) (r2, c2)``).
    action_kind: ClassVar[ActionKind]
    #: Random steps after reset used by the paper to sample training states (K).
    sampler_steps: ClassVar[int] = 0
    #: Whether the HUD shows the score by default.
    hud_default: ClassVar[bool] = False

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
        from vlmgym.core.state import StateError

        try:
            expected = {**COMMON_FIELDS, **cls.state_fields(rules)}
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"invalid rules for game {cls.name!r}: {dict(rules)} ({exc})") from None
        if set(arrays) != set(expected):
            raise StateError(
                f"{cls.name} state must have fields {sorted(expected)}, got {sorted(arrays)}"
            )
        for name, (shape, dtype) in expected.items():
            a = arrays[name]
            if a.shape != tuple(shape) or a.dtype != dtype:
                raise StateError(
                    f"{cls.name} field {name!r} must be {dtype} of shape {tuple(shape)},"
                    f" got {a.dtype} of shape {a.shape}"
                )
        for name in ("score", "steps", "successes"):
            if int(arrays[name]) < 0:
                raise StateError(f"{cls.name} field {name!r} must be >= 0, got {int(arrays[name])}")
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
    def action_arity(self) -> int:
        return 1 if self.action_kind == "direction" else 4

    def parse(self, text: str) -> Parsed:
        """Free model text -> action (see :mod:`vlmgym.core.answer`)."""
        return parse_answer(text, self.action_kind)

    @abc.abstractmethod
    def decode(self, index: np.ndarray) -> np.ndarray:
        """Flat action indices (B,) -> action arrays (B, arity)."""

    @abc.abstractmethod
    def encode(self, actions: np.ndarray) -> np.ndarray:
        """Action arrays (B, arity) -> flat indices (B,), -1 where outside the action space."""

    def to_array(self, action: Action) -> np.ndarray:
        """A parsed action -> its int64 row of length :attr:`action_arity`."""
        if self.action_kind == "direction":
            return np.array([int(action)], dtype=np.int64)  # type: ignore[arg-type]
        (r1, c1), (r2, c2) = action  # type: ignore[misc]
        return np.array([r1, c1, r2, c2], dtype=np.int64)

    def to_arrays(self, actions: list[Action]) -> np.ndarray:
        """Many parsed actions -> int64 array (len, :attr:`action_arity`)."""
        if self.action_kind == "direction":
            return np.array(actions, dtype=np.int64).reshape(-1, 1)
        return np.array(actions, dtype=np.int64).reshape(-1, 4)

    def from_arrays(self, arr: np.ndarray) -> list[Action]:
        """Inverse of :meth:`to_arrays` (python ints), for a whole batch at once."""
        if self.action_kind == "direction":
            return [int(x) for x in arr[:, 0].tolist()]
        return [((r1, c1), (r2, c2)) for r1, c1, r2, c2 in arr.tolist()]

    def from_array(self, row: np.ndarray) -> Action:
        """Inverse of :meth:`to_array` (python ints)."""
        if self.action_kind == "direction":
            return int(row[0])
        r1, c1, r2, c2 = (int(x) for x in row)
        return ((r1, c1), (r2, c2))

    def format_answer(self, action: Action) -> str:
        """The canonical answer text for ``action`` (what goes inside ``<answer>``)."""
        if self.action_kind == "direction":
            return str(int(action))  # type: ignore[arg-type]
        (r1, c1), (r2, c2) = action  # type: ignore[misc]
        return f"({r1}, {c1}) ({r2}, {c2})"

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
