"""Immutable, serialisable snapshots of one environment's game.

A :class:`GameState` holds every array that determines the future of one game: the board, the
score and counters, and the random stream (``rng``). Restoring it restores the game exactly.

Serialisation is a small self-describing binary format, never pickle::

    b"VLMGYMS\\0"  u32 version  u32 header_length  header(JSON, utf-8)  raw array bytes...

The header names the game, its rule parameters and each array's name, dtype and shape. Loading
checks everything (sizes, dtypes, the game's expected shapes and value ranges) and raises
:class:`StateError` (a ``ValueError``) that says what is wrong, and nothing else, for any byte
string: the header is bounded (1 MiB, nesting depth 32, 100,000 values) before it is used, every
declared size is checked against the data before anything is allocated, and the game checks its
rules before it builds anything from them.

A state is validated once: loaded, built by ``make_state`` or produced by an env's own
transitions, it carries a mark, and every entry point that takes states (``set_state(s)``,
``reset(options=...)``, ``score``, ...) validates an unmarked one (e.g. built with the
``GameState`` constructor) the first time it sees it.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from vlmgym.core.registry import game_class

__all__ = ["GameState", "StateError", "ensure_valid", "freeze_rules", "stack_states", "unstack_states",
           "validate_state"]

_MAGIC = b"VLMGYMS\x00"
_VERSION = 1
_PREFIX = struct.Struct("<8sII")
_ALLOWED_DTYPES = {
    np.dtype(t).str: np.dtype(t)
    for t in ("|b1", "|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8", "<f4", "<f8")
}
_MAX_HEADER = 1 << 20
_MAX_PAYLOAD = 1 << 28
_MAX_DEPTH = 32         # nesting of the header JSON (rules are a few levels deep)
_MAX_NODES = 100_000    # values in the header JSON
_MAX_DIMS = 8
_MAX_DIM = 1 << 16


class StateError(ValueError):
    """A snapshot that cannot be used: corrupt bytes, wrong game, wrong shapes or values."""


class _FrozenRules(Mapping[str, Any]):
    """Read-only, JSON-normalised rule parameters, shared by every state of one game config."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]):
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Any:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(self._data)


def freeze_rules(rules: Mapping[str, Any]) -> Mapping[str, Any]:
    """Normalise rules through JSON (plain data only; equal rules compare equal) and freeze them.

    Already-frozen rules are returned as they are, so batches of snapshots share one mapping.
    """
    if isinstance(rules, _FrozenRules):
        return rules
    return _FrozenRules(json.loads(json.dumps(dict(rules), sort_keys=True)))


def _freeze(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True, order="C")
    a.setflags(write=False)
    return a


class GameState:
    """Immutable snapshot of one game: arrays, rule parameters and the random stream.

    Create one with ``env.unwrapped.get_state()`` or ``vec.get_states()``; restore it with
    ``set_state``/``set_states`` or ``reset(options={"state": s})``. Arrays are read-only copies.
    """

    __slots__ = ("_game", "_rules", "_arrays", "_digest", "_valid")
    _game: str
    _rules: Mapping[str, Any]
    _arrays: Mapping[str, np.ndarray]
    _digest: str | None
    _valid: bool  # validated against its game (see ensure_valid); immutable, so once is enough

    def __init__(self, game: str, rules: Mapping[str, Any], arrays: Mapping[str, np.ndarray]):
        self._init(game, freeze_rules(rules), {k: _freeze(v) for k, v in arrays.items()})

    def _init(self, game: str, rules: Mapping[str, Any], frozen: dict[str, np.ndarray]) -> None:
        init = object.__setattr__
        init(self, "_game", str(game))
        init(self, "_rules", rules)
        init(self, "_arrays", MappingProxyType(dict(sorted(frozen.items()))))
        init(self, "_digest", None)
        init(self, "_valid", False)

    @classmethod
    def _from_frozen(cls, game: str, rules: Mapping[str, Any], frozen: dict[str, np.ndarray],
                     valid: bool = False) -> GameState:
        """Trusted constructor: ``rules`` from :func:`freeze_rules`, arrays already read-only."""
        state = cls.__new__(cls)
        state._init(game, rules, frozen)
        object.__setattr__(state, "_valid", valid)
        return state

    # -- read access -------------------------------------------------------------------------
    @property
    def game(self) -> str:
        """Name of the game this state belongs to (e.g. ``"2048"``)."""
        return self._game

    @property
    def rules(self) -> Mapping[str, Any]:
        """Rule parameters (board size, number of tile types, ...) the arrays are valid for."""
        return self._rules

    @property
    def arrays(self) -> Mapping[str, np.ndarray]:
        """Read-only arrays by name (``board``, ``score``, ``steps``, ``rng``, ...)."""
        return self._arrays

    def __getitem__(self, name: str) -> np.ndarray:
        return self._arrays[name]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("GameState is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GameState):
            return NotImplemented
        return (
            self._game == other._game
            and dict(self._rules) == dict(other._rules)
            and self._arrays.keys() == other._arrays.keys()
            and all(
                a.dtype == other._arrays[k].dtype and np.array_equal(a, other._arrays[k])
                for k, a in self._arrays.items()
            )
        )

    def __hash__(self) -> int:
        return hash(self.digest())

    def digest(self) -> str:
        """A short stable id of this exact state (hex of a SHA-1 over its bytes)."""
        if self._digest is None:
            object.__setattr__(self, "_digest", hashlib.sha1(self.to_bytes()).hexdigest()[:16])
        assert self._digest is not None
        return self._digest

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}{list(v.shape)}" for k, v in self._arrays.items())
        return f"GameState(game={self._game!r}, rules={dict(self._rules)}, {fields})"

    # -- bytes ------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Serialise to the versioned binary format described in this module."""
        header = {
            "game": self._game,
            "rules": dict(self._rules),
            "arrays": [
                {"name": k, "dtype": a.dtype.newbyteorder("<").str, "shape": list(a.shape)}
                for k, a in self._arrays.items()
            ],
        }
        head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        parts = [_PREFIX.pack(_MAGIC, _VERSION, len(head)), head]
        parts += [a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes() for a in self._arrays.values()]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, blob: bytes | bytearray | memoryview) -> GameState:
        """Parse and validate bytes from :meth:`to_bytes`.

        Raises :class:`StateError` for any byte string that is not a valid state of a registered
        game (and ``TypeError`` for an argument that is not bytes).
        """
        if not isinstance(blob, (bytes, bytearray, memoryview)):
            raise TypeError(f"GameState.from_bytes expects bytes, got {type(blob).__name__}")
        blob = bytes(blob)
        if len(blob) < _PREFIX.size:
            raise StateError(f"snapshot too short ({len(blob)} bytes): not a vlmgym GameState")
        magic, version, head_len = _PREFIX.unpack_from(blob)
        if magic != _MAGIC:
            raise StateError("not a vlmgym GameState (bad magic bytes)")
        if version != _VERSION:
            raise StateError(f"snapshot format version {version} is not supported (expected {_VERSION})")
        if head_len > _MAX_HEADER or _PREFIX.size + head_len > len(blob):
            raise StateError(f"snapshot header length {head_len} exceeds the data ({len(blob)} bytes)")
        game, rules, entries = _parse_header(blob[_PREFIX.size : _PREFIX.size + head_len])
        offset = _PREFIX.size + head_len
        arrays: dict[str, np.ndarray] = {}
        for entry in entries:
            name, dtype, shape = _array_entry(entry, arrays)
            count = _element_count(name, shape, dtype, len(blob) - offset)
            nbytes = count * dtype.itemsize
            arrays[name] = np.frombuffer(blob, dtype=dtype, count=count,
                                         offset=offset).reshape(shape).astype(dtype.newbyteorder("="))
            offset += nbytes
        if offset != len(blob):
            raise StateError(f"snapshot has {len(blob) - offset} unexpected trailing bytes")
        state = cls(game, rules, arrays)
        validate_state(state)
        return state


def _parse_header(raw: bytes) -> tuple[str, dict[str, Any], list[Any]]:
    """The header's game, rules and array entries; bounded before anything else sees them."""
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested past the stack, huge ints
        raise StateError(f"snapshot header is corrupt ({type(exc).__name__})") from None
    _check_plain(header)
    if not isinstance(header, dict):
        raise StateError("snapshot header is corrupt (not an object)")
    game, rules, entries = header.get("game"), header.get("rules"), header.get("arrays")
    if not (isinstance(game, str) and isinstance(rules, dict) and isinstance(entries, list)):
        raise StateError("snapshot header is corrupt (needs game, rules and arrays)")
    return game, rules, entries


def _check_plain(value: Any) -> None:
    """Refuse JSON nested deeper than ``_MAX_DEPTH`` or with more than ``_MAX_NODES`` values."""
    stack, nodes = [(value, 0)], 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if depth > _MAX_DEPTH or nodes > _MAX_NODES:
            raise StateError(f"snapshot header is nested deeper than {_MAX_DEPTH} or holds more than "
                             f"{_MAX_NODES} values")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def _short(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters: what a hostile header holds ends up in messages."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _array_entry(entry: Any, seen: Mapping[str, Any]) -> tuple[str, np.dtype, tuple[int, ...]]:
    if not isinstance(entry, dict) or not {"name", "dtype", "shape"} <= set(entry):
        raise StateError("snapshot header has a malformed array entry")
    name, dtype_str, shape = entry["name"], entry["dtype"], entry["shape"]
    if not isinstance(name, str) or name in seen:
        raise StateError(f"snapshot array name {_short(repr(name))} is invalid or repeated")
    dtype = _ALLOWED_DTYPES.get(dtype_str) if isinstance(dtype_str, str) else None
    if dtype is None:
        raise StateError(f"array {_short(repr(name))} has unsupported dtype {_short(repr(dtype_str))}")
    if (not isinstance(shape, list) or len(shape) > _MAX_DIMS
            or not all(type(d) is int and 0 <= d <= _MAX_DIM for d in shape)):
        raise StateError(f"array {_short(repr(name))} has an invalid shape {_short(str(shape))} (at most {_MAX_DIMS} "
                         f"sizes of 0..{_MAX_DIM})")
    return name, dtype, tuple(shape)


def _element_count(name: str, shape: tuple[int, ...], dtype: np.dtype, available: int) -> int:
    """Elements of an array entry, refused before allocating if the data cannot hold them."""
    count, extent = 1, 1
    for d in shape:  # exact (Python ints), so a product of large sizes cannot overflow
        count *= d
        extent *= max(d, 1)  # what numpy bounds when it builds the shape, even an empty one
    nbytes = count * dtype.itemsize
    if nbytes > _MAX_PAYLOAD or nbytes > available:
        raise StateError(f"array {_short(repr(name))} of shape {list(shape)} needs {nbytes} bytes but the snapshot is "
                         f"truncated ({available} left)")
    if extent * dtype.itemsize > _MAX_PAYLOAD:
        raise StateError(f"array {_short(repr(name))} has an empty shape {list(shape)} too large for any state")
    return count


def validate_state(state: GameState) -> None:
    """Check a state against its game's expected fields, shapes, dtypes and value ranges, and mark
    it validated. Raises only :class:`StateError`."""
    try:
        cls = game_class(state.game)
    except KeyError as exc:
        raise StateError(_short(str(exc.args[0]), 300)) from None
    try:
        cls.validate_state(state.rules, state.arrays)
    except StateError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, OverflowError, RecursionError, AttributeError) as exc:
        # a game's checks met rules or values they did not expect: still a state that cannot be used
        raise StateError(f"{state.game} state is invalid ({type(exc).__name__}: {_short(str(exc), 300)})") from None
    object.__setattr__(state, "_valid", True)


def ensure_valid(state: GameState) -> GameState:
    """``state``, validated the first time it is seen (:func:`validate_state`); cheap afterwards."""
    if not state._valid:
        validate_state(state)
    return state


def stack_states(states: list[GameState] | tuple[GameState, ...]) -> dict[str, np.ndarray]:
    """Stack per-env snapshots into writable batch arrays (leading axis = env)."""
    if not states:
        raise ValueError("need at least one GameState")
    first = states[0]
    for s in states:
        if not isinstance(s, GameState):
            raise TypeError(f"expected GameState, got {type(s).__name__}")
        if s.game != first.game or (s.rules is not first.rules and s.rules != first.rules):
            raise StateError(
                f"cannot batch states of different games or rules: {first.game} {dict(first.rules)}"
                f" vs {s.game} {dict(s.rules)}"
            )
    return {k: np.stack([s.arrays[k] for s in states]) for k in first.arrays}


def unstack_states(game: str, rules: Mapping[str, Any], batch: Mapping[str, np.ndarray],
                   indices: Any = None, *, valid: bool = False) -> list[GameState]:
    """Split batch arrays back into per-env snapshots (optionally only ``indices``).

    ``valid=True`` marks them validated: only for batches an env's own transitions produced from
    validated states (which stay valid: see ``check_game``'s ``successors``).
    """
    n = len(next(iter(batch.values())))
    idx = range(n) if indices is None else indices
    frozen_rules = freeze_rules(rules)
    # one read-only copy per field; each state views its row (no per-state copies)
    copies = {k: _freeze(v) for k, v in batch.items()}
    return [GameState._from_frozen(game, frozen_rules, {k: v[i] for k, v in copies.items()}, valid) for i in idx]
