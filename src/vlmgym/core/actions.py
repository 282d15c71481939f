"""Action codecs: everything about a game's kind of action that is not the game's rules.

A game declares one codec (``Game.codec``); every layer that handles actions asks it instead of
testing which game it is:

* the answer parser reads the inside of an ``<answer>`` block with :meth:`ActionCodec.parse`
  (linear time, never raises for a ``str``) and writes canonical answers with
  :meth:`ActionCodec.format`;
* the engine converts parsed actions to and from int64 rows (:meth:`ActionCodec.to_arrays`,
  batched) and the evaluation records them as JSON (:meth:`ActionCodec.to_json`);
* the multi-turn tool layer describes the move tools from :meth:`ActionCodec.tools` (name, typed
  arguments, a Google-style docstring, and how the arguments become answer text);
* videos, reports and ``vlmgym play`` outline :meth:`ActionCodec.cells` and turn key presses and
  clicks into actions (:meth:`ActionCodec.key_action`, :meth:`ActionCodec.click_action`).

Three codecs cover the built-in games and the ones planned next:

=====================  ==========================  ==============================  =========
codec                  answer                      action                          arity
=====================  ==========================  ==============================  =========
:class:`DirectionCodec` ``2`` or ``left``            ``int`` (index into ``names``)  1
:class:`PairCodec`      ``(r1, c1) (r2, c2)``       ``((r1, c1), (r2, c2))``        4
:class:`CellCodec`      ``(r, c)``                  ``(r, c)``                      2
                        ``flag (r, c)`` (verbs)     ``("flag", (r, c))``            3
=====================  ==========================  ==============================  =========

Every codec reads answers through one tokenizer, :func:`vlmgym.core.tokens.answer_tokens`: words
of ASCII letters and plain non-negative ASCII integers. A minus sign of any script makes a number
negative (off every board: the game calls the move illegal); anything else numeric that is not a
plain integer (``1.2``, ``1e3``, ``１``, ``1st``) makes the answer unparsable, never a different
move. Out-of-board numbers parse; numbers longer than six digits are read as 1,000,000.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from vlmgym.core.tokens import BAD, MAX_DIGITS, NUMBER, WORD, answer_tokens

__all__ = [
    "DIRECTIONS",
    "Action",
    "ActionCodec",
    "Cell",
    "CellCodec",
    "DirectionCodec",
    "PairCodec",
    "Parsed",
    "ToolArg",
    "ToolSpec",
    "codec_for_kind",
    "parse_direction",
    "parse_pair",
]

Cell = tuple[int, int]
Pair = tuple[Cell, Cell]
#: A structured action: what ``info["action"]`` holds (see the table in the module docstring).
Action = Any

DIRECTIONS = ("up", "right", "down", "left")

_WORD = re.compile(r"[A-Za-z]+")
_DIGITS_AND_BRACKETS = re.compile(r"[ \t\n(),\[\]0-9]{1,128}")
_DIGIT_RUN = re.compile(r"[0-9]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RETURNS = "The result of the move and a picture of the new board."


@dataclass(frozen=True)
class Parsed:
    """Result of parsing: an ``action`` or ``None`` with a human-readable ``reason``."""

    action: Action | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.action is not None


def _not_plain(text: object) -> Parsed:
    return Parsed(None, f"{text!r} is not a plain non-negative integer (write whole numbers with the digits 0-9)")


# -- tool descriptions ----------------------------------------------------------------------
@dataclass(frozen=True)
class ToolArg:
    """One argument of a move tool: its name, Python type (``int`` or ``str``) and description."""

    name: str
    type: type
    doc: str


@dataclass(frozen=True)
class ToolSpec:
    """A move tool for multi-turn play (TRL's ``environment_factory`` turns it into a method).

    ``answer(**arguments)`` writes the answer text the tool call stands for (what goes inside
    ``<answer>``); the game parses it like any model reply, so a tool call and a text answer are
    judged by the same rules.
    """

    name: str
    summary: str
    args: tuple[ToolArg, ...]
    answer: Callable[..., str]
    returns: str = _RETURNS

    def docstring(self) -> str:
        """Google-style docstring (summary, ``Args:``, ``Returns:``), as TRL reads tools."""
        lines = [self.summary, "", "Args:"]
        lines += [f"    {a.name}: {a.doc}" for a in self.args]
        lines += ["", "Returns:", f"    {self.returns}"]
        return "\n".join(lines)


# -- codecs ---------------------------------------------------------------------------------
class ActionCodec(abc.ABC):
    """How one kind of action is read, written, stored, offered as a tool and entered by hand."""

    #: Short name of the kind ("direction", "pair", "cell").
    kind: ClassVar[str]
    #: int64 columns per action in the engine's action arrays.
    arity: int
    #: cells a person clicks for one action in ``vlmgym play`` (0: the action comes from keys).
    cells_per_action: int = 0

    # -- text --------------------------------------------------------------------------------
    @abc.abstractmethod
    def parse(self, content: str) -> Parsed:
        """Read the inside of an answer block; linear time, never raises for a ``str``."""

    @abc.abstractmethod
    def format(self, action: Action) -> str:
        """The canonical answer text of ``action`` (what goes inside ``<answer>``)."""

    def describe(self, action: Action) -> str:
        """A short human-readable form (captions, messages); the canonical text by default."""
        return self.format(action)

    # -- arrays ------------------------------------------------------------------------------
    @abc.abstractmethod
    def to_arrays(self, actions: Sequence[Action]) -> np.ndarray:
        """Parsed actions -> int64 array ``(len(actions), arity)``."""

    @abc.abstractmethod
    def from_arrays(self, arr: np.ndarray) -> list[Action]:
        """Inverse of :meth:`to_arrays` (Python ints), for a whole batch."""

    def to_array(self, action: Action) -> np.ndarray:
        """One action -> its int64 row of length :attr:`arity`."""
        return self.to_arrays([action])[0]

    def from_array(self, row: np.ndarray) -> Action:
        """Inverse of :meth:`to_array`."""
        return self.from_arrays(np.asarray(row, dtype=np.int64).reshape(1, self.arity))[0]

    # -- records -----------------------------------------------------------------------------
    def to_json(self, action: Action) -> Any:
        """JSON form of an action (tuples become lists), as ``steps.jsonl`` stores it."""
        return _json(action)

    @abc.abstractmethod
    def from_json(self, value: Any) -> Action:
        """Inverse of :meth:`to_json`."""

    # -- pictures and people ----------------------------------------------------------------
    def cells(self, action: Action) -> list[Cell]:
        """Board cells the action names (outlined in videos and ``vlmgym play``); may be off-board."""
        return []

    def key_action(self, key: str) -> Action | None:
        """The action a key stands for in ``vlmgym play`` (pygame key names), or ``None``."""
        return None

    def key_names(self) -> tuple[str, ...]:
        """The keys :meth:`key_action` understands."""
        return ()

    def click_action(self, cells: Sequence[Cell], button: int = 1) -> Action | None:
        """The action of :attr:`cells_per_action` clicked cells (``button``: 1 left, 3 right)."""
        return None

    @abc.abstractmethod
    def controls(self) -> str:
        """How a person enters a move in ``vlmgym play`` (one line of help)."""

    # -- multi-turn tools -------------------------------------------------------------------
    @abc.abstractmethod
    def tools(self) -> tuple[ToolSpec, ...]:
        """The move tools of this kind of action (one or more)."""

    @abc.abstractmethod
    def tool_call(self, action: Action) -> tuple[str, dict[str, Any]]:
        """The tool name and arguments that play ``action`` (inverse of the tools' ``answer``)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _json(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_json(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _arg(value: Any) -> str:
    """A tool argument as answer text: integers as digits, anything else as a word the parser
    will not take for a number (``True`` is not 1, ``1.0`` is a decimal)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return str(int(value))
    return str(value)


def _check_tool_name(name: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name) or name.startswith("_") or name in (
            "reset", "get_reward"):
        raise ValueError(f"tool name must be a public Python identifier other than reset/get_reward, got {name!r}")
    return name


class DirectionCodec(ActionCodec):
    """Moves named by a direction: ``2``, ``left``, ``3 (left)``; the action is the index.

    Args:
        names: the direction words in index order (single words of letters); digits
            ``0..len(names)-1`` mean the same. Default up, right, down, left (2048, Sokoban).
        tool_name: name of the multi-turn tool (default ``move``).
        tool_summary: first line of the tool's docstring (what a move does in this game).
        keys: pygame key names -> direction index for ``vlmgym play`` (default: arrow keys and
            W/A/S/D for whichever of up/right/down/left are in ``names``).

    Naming two different directions is ambiguous (unparsable); a number outside the range is not
    a move.
    """

    kind = "direction"
    arity = 1
    cells_per_action = 0

    def __init__(self, names: Sequence[str] = DIRECTIONS, *, tool_name: str = "move",
                 tool_summary: str = "Play one move in one direction.",
                 keys: Mapping[str, int] | None = None):
        names = tuple(str(n).lower() for n in names)
        if len(names) < 2 or len(set(names)) != len(names) or not all(_WORD.fullmatch(n) for n in names):
            raise ValueError(f"names must be at least two distinct words of letters, got {names!r}")
        self.names = names
        self.tool_name = _check_tool_name(tool_name)
        self.tool_summary = str(tool_summary)
        self._simple = {**{str(i): i for i in range(len(names))}, **{n: i for i, n in enumerate(names)}}
        self._longest = max(len(k) for k in self._simple) + 12  # fast path: short content only
        if keys is None:
            arrows = {"up": ("up", "w"), "right": ("right", "d"), "down": ("down", "s"), "left": ("left", "a")}
            keys = {k: i for i, n in enumerate(names) for k in arrows.get(n, ())}
        self.keys = {str(k).lower(): int(v) for k, v in keys.items()}
        self._usage = f"use 0-{len(names) - 1} or {'/'.join(names)}"

    def parse(self, content: str) -> Parsed:
        # the common case, a lone ASCII digit or word, gives the same result as the scan (ASCII
        # only: str.lower() maps some other letters to ASCII ones, e.g. the Kelvin sign to "k")
        if len(content) < self._longest and content.isascii():
            simple = self._simple.get(content.strip().lower())
            if simple is not None:
                return Parsed(simple)
        return self.scan(content)

    def scan(self, content: str) -> Parsed:
        """The general reader (:meth:`parse` is this plus a fast path for a lone word or digit)."""
        found: set[int] = set()
        n = len(self.names)
        for kind, value, text in answer_tokens(content):
            if kind == WORD:
                if value in self._simple:
                    found.add(self._simple[value])  # type: ignore[index]
            elif kind == NUMBER:
                assert isinstance(value, int)
                if not 0 <= value < n:
                    return Parsed(None, f"{text[:12]!r} is not a move ({self._usage})")
                found.add(value)
            else:
                return _not_plain(value)
            if len(found) > 1:
                return Parsed(None, "answer names more than one direction")
        if not found:
            return Parsed(None, f"no move found ({self._usage})")
        return Parsed(found.pop())

    def format(self, action: Action) -> str:
        return str(int(action))

    def describe(self, action: Action) -> str:
        a = int(action)
        return f"{a} ({self.names[a]})" if 0 <= a < len(self.names) else str(a)

    def to_arrays(self, actions: Sequence[Action]) -> np.ndarray:
        return np.array(actions, dtype=np.int64).reshape(-1, 1)

    def from_arrays(self, arr: np.ndarray) -> list[Action]:
        return [int(x) for x in np.asarray(arr)[:, 0].tolist()]

    def from_json(self, value: Any) -> Action:
        return int(value)

    def key_action(self, key: str) -> Action | None:
        return self.keys.get(str(key).lower())

    def key_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.keys))

    def controls(self) -> str:
        if {"up", "right", "down", "left", "w", "a", "s", "d"} <= set(self.keys):
            return "arrow keys or W/A/S/D: move"
        return f"keys {'/'.join(sorted(self.keys)) or '(none)'}: move"

    def tools(self) -> tuple[ToolSpec, ...]:
        words = ", ".join(f'"{n}"' for n in self.names[:-1]) + f' or "{self.names[-1]}"'
        numbers = ", ".join(str(i) for i in range(len(self.names)))
        arg = ToolArg("direction", str, f"The direction: {words} (or its number {numbers}).")
        return (ToolSpec(self.tool_name, self.tool_summary, (arg,), lambda direction: str(direction)),)

    def tool_call(self, action: Action) -> tuple[str, dict[str, Any]]:
        return self.tool_name, {"direction": self.names[int(action)]}

    def __repr__(self) -> str:
        return f"DirectionCodec(names={self.names!r}, tool_name={self.tool_name!r})"


def parse_direction(content: str) -> Parsed:
    """Parse a 2048-style move (0-3 or up/right/down/left) from the inside of an answer block."""
    return _DIRECTION.parse(content)


class PairCodec(ActionCodec):
    """Moves naming two cells: exactly four integers, e.g. ``(0, 1) (2, 1)``, ``(0,1),(2,1)``,
    ``[0, 1] [2, 1]``, ``0 1 2 1``; the action is ``((r1, c1), (r2, c2))``.

    Args:
        tool_name: name of the multi-turn tool (default ``play_cells``).
        tool_summary: first line of the tool's docstring (what a move does in this game).
        noun: what a cell holds in the argument descriptions (``"tile"``: "Row of the first tile").
    """

    kind = "pair"
    arity = 4
    cells_per_action = 2

    def __init__(self, *, tool_name: str = "play_cells",
                 tool_summary: str = "Play one move on two cells of the board.", noun: str = "cell"):
        self.tool_name = _check_tool_name(tool_name)
        self.tool_summary = str(tool_summary)
        self.noun = str(noun)

    def parse(self, content: str) -> Parsed:
        # the common case, digits between brackets, commas and spaces only: no words, signs or
        # points can occur, so the numbers are the digit runs (the same result as the scan)
        if _DIGITS_AND_BRACKETS.fullmatch(content):
            numbers = _DIGIT_RUN.findall(content)
            if len(numbers) == 4 and all(len(t) <= MAX_DIGITS for t in numbers):
                r1, c1, r2, c2 = (int(t) for t in numbers)
                return Parsed(((r1, c1), (r2, c2)))
        return self.scan(content)

    def scan(self, content: str) -> Parsed:
        """The general reader (:meth:`parse` is this plus a fast path for short plain content)."""
        numbers: list[int] = []
        for kind, value, _ in answer_tokens(content):
            if kind == BAD:
                return _not_plain(value)
            if kind != NUMBER:
                continue
            assert isinstance(value, int)
            numbers.append(value)
            if len(numbers) > 4:
                return Parsed(None, "more than four numbers; expected (r1, c1) (r2, c2)")
        if len(numbers) != 4:
            return Parsed(None, f"found {len(numbers)} numbers; expected (r1, c1) (r2, c2)")
        r1, c1, r2, c2 = numbers
        return Parsed(((r1, c1), (r2, c2)))

    def format(self, action: Action) -> str:
        (r1, c1), (r2, c2) = action
        return f"({r1}, {c1}) ({r2}, {c2})"

    def to_arrays(self, actions: Sequence[Action]) -> np.ndarray:
        return np.array(actions, dtype=np.int64).reshape(-1, 4)

    def from_arrays(self, arr: np.ndarray) -> list[Action]:
        return [((r1, c1), (r2, c2)) for r1, c1, r2, c2 in np.asarray(arr).tolist()]

    def from_json(self, value: Any) -> Action:
        (r1, c1), (r2, c2) = value
        return ((int(r1), int(c1)), (int(r2), int(c2)))

    def cells(self, action: Action) -> list[Cell]:
        (r1, c1), (r2, c2) = action
        return [(int(r1), int(c1)), (int(r2), int(c2))]

    def click_action(self, cells: Sequence[Cell], button: int = 1) -> Action | None:
        if len(cells) != 2:
            return None
        (r1, c1), (r2, c2) = cells
        return ((int(r1), int(c1)), (int(r2), int(c2)))

    def controls(self) -> str:
        return f"click two {self.noun}s: move (click a selected {self.noun} again to deselect)"

    def tools(self) -> tuple[ToolSpec, ...]:
        n = self.noun
        args = (ToolArg("row1", int, f"Row of the first {n} (0 is the top row)."),
                ToolArg("col1", int, f"Column of the first {n} (0 is the left column)."),
                ToolArg("row2", int, f"Row of the second {n}."),
                ToolArg("col2", int, f"Column of the second {n}."))

        def answer(row1: Any, col1: Any, row2: Any, col2: Any) -> str:
            # written as given, not through int(): int() would accept 1.9, True or "１" and
            # the parser is the one judge of what the arguments spell
            return f"({_arg(row1)}, {_arg(col1)}) ({_arg(row2)}, {_arg(col2)})"

        return (ToolSpec(self.tool_name, self.tool_summary, args, answer),)

    def tool_call(self, action: Action) -> tuple[str, dict[str, Any]]:
        (r1, c1), (r2, c2) = action
        return self.tool_name, {"row1": r1, "col1": c1, "row2": r2, "col2": c2}

    def __repr__(self) -> str:
        return f"PairCodec(tool_name={self.tool_name!r})"


def parse_pair(content: str) -> Parsed:
    """Parse two cells ``(r1, c1) (r2, c2)`` (four integers) from the inside of an answer block."""
    return _PAIR.parse(content)


class CellCodec(ActionCodec):
    """Moves on one cell, optionally with a verb: ``(2, 3)``, ``reveal (2, 3)``, ``flag 2 3``.

    Without verbs the action is ``(r, c)`` (arity 2). With verbs it is ``(verb, (r, c))`` and its
    row is ``[verb index, r, c]`` (arity 3); exactly two integers and at most one of the verbs
    (case-insensitive; other words are ignored) make an answer, and an answer without a verb takes
    ``default_verb`` (or is unparsable when there is none).

    Args:
        verbs: the action words, e.g. ``("reveal", "flag")`` (single words of letters).
        default_verb: the verb of an answer that names none (one of ``verbs``), or ``None``.
        tool_names: one tool name per verb (default: the verbs themselves); without verbs a
            single name (default ``("play_cell",)``).
        tool_summaries: one docstring summary per tool.
        noun: what a cell holds in the argument descriptions.

    In ``vlmgym play`` a left click plays the first verb and a right click the second.
    """

    kind = "cell"
    cells_per_action = 1

    def __init__(self, verbs: Sequence[str] = (), *, default_verb: str | None = None,
                 tool_names: Sequence[str] | None = None, tool_summaries: Sequence[str] | None = None,
                 noun: str = "cell"):
        verbs = tuple(str(v).lower() for v in verbs)
        if len(set(verbs)) != len(verbs) or not all(_WORD.fullmatch(v) for v in verbs):
            raise ValueError(f"verbs must be distinct words of letters, got {verbs!r}")
        if default_verb is not None and default_verb not in verbs:
            raise ValueError(f"default_verb must be one of {verbs}, got {default_verb!r}")
        self.verbs = verbs
        self.default_verb = default_verb
        self.arity = 3 if verbs else 2
        self.noun = str(noun)
        count = max(1, len(verbs))
        names = tuple(tool_names) if tool_names is not None else (verbs or ("play_cell",))
        summaries = tuple(tool_summaries) if tool_summaries is not None else tuple(
            f"{v.capitalize()} one {noun} of the board." for v in verbs) or (f"Play one move on a {noun}.",)
        if len(names) != count or len(summaries) != count:
            raise ValueError(f"give one tool name and one summary per verb ({count}), got {names!r}, {summaries!r}")
        self.tool_names = tuple(_check_tool_name(n) for n in names)
        self.tool_summaries = tuple(str(s) for s in summaries)
        self._verb_index = {v: i for i, v in enumerate(verbs)}
        self._usage = ("expected (row, col)" if not verbs else
                       f"expected {' or '.join(verbs)} followed by (row, col)")

    def parse(self, content: str) -> Parsed:
        numbers: list[int] = []
        verb: str | None = None
        for kind, value, _ in answer_tokens(content):
            if kind == WORD:
                if value in self._verb_index:
                    if verb is not None and verb != value:
                        return Parsed(None, f"answer names more than one action ({verb}, {value})")
                    verb = str(value)
                continue
            if kind == BAD:
                return _not_plain(value)
            assert isinstance(value, int)
            numbers.append(value)
            if len(numbers) > 2:
                return Parsed(None, f"more than two numbers; {self._usage}")
        if len(numbers) != 2:
            return Parsed(None, f"found {len(numbers)} numbers; {self._usage}")
        cell = (numbers[0], numbers[1])
        if not self.verbs:
            return Parsed(cell)
        verb = verb or self.default_verb
        if verb is None:
            return Parsed(None, f"no action word found; {self._usage}")
        return Parsed((verb, cell))

    def format(self, action: Action) -> str:
        if not self.verbs:
            r, c = action
            return f"({r}, {c})"
        verb, (r, c) = action
        return f"{verb} ({r}, {c})"

    def to_arrays(self, actions: Sequence[Action]) -> np.ndarray:
        if not self.verbs:
            return np.array(actions, dtype=np.int64).reshape(-1, 2)
        return np.array([(self._verb_index[v], r, c) for v, (r, c) in actions], dtype=np.int64).reshape(-1, 3)

    def from_arrays(self, arr: np.ndarray) -> list[Action]:
        rows = np.asarray(arr).tolist()
        if not self.verbs:
            return [(r, c) for r, c in rows]
        return [(self.verbs[v], (r, c)) for v, r, c in rows]

    def from_json(self, value: Any) -> Action:
        if not self.verbs:
            r, c = value
            return (int(r), int(c))
        verb, (r, c) = value
        return (str(verb), (int(r), int(c)))

    def cells(self, action: Action) -> list[Cell]:
        r, c = action if not self.verbs else action[1]
        return [(int(r), int(c))]

    def click_action(self, cells: Sequence[Cell], button: int = 1) -> Action | None:
        if len(cells) != 1:
            return None
        r, c = (int(x) for x in cells[0])
        if not self.verbs:
            return (r, c)
        verb = self.verbs[1] if button == 3 and len(self.verbs) > 1 else self.verbs[0]
        return (verb, (r, c))

    def controls(self) -> str:
        if len(self.verbs) > 1:
            return f"left click: {self.verbs[0]}   right click: {self.verbs[1]}"
        return f"click a {self.noun}: {self.verbs[0] if self.verbs else 'move'}"

    def tools(self) -> tuple[ToolSpec, ...]:
        n = self.noun
        args = (ToolArg("row", int, f"Row of the {n} (0 is the top row)."),
                ToolArg("col", int, f"Column of the {n} (0 is the left column)."))
        verbs: tuple[str | None, ...] = self.verbs or (None,)
        out = []
        for verb, name, summary in zip(verbs, self.tool_names, self.tool_summaries):
            def answer(row: Any, col: Any, _verb: str | None = verb) -> str:
                cell = f"({_arg(row)}, {_arg(col)})"  # as written: the parser judges (see PairCodec)
                return cell if _verb is None else f"{_verb} {cell}"

            out.append(ToolSpec(name, summary, args, answer))
        return tuple(out)

    def tool_call(self, action: Action) -> tuple[str, dict[str, Any]]:
        if not self.verbs:
            r, c = action
            return self.tool_names[0], {"row": r, "col": c}
        verb, (r, c) = action
        return self.tool_names[self._verb_index[verb]], {"row": r, "col": c}

    def __repr__(self) -> str:
        return f"CellCodec(verbs={self.verbs!r})"


_DIRECTION = DirectionCodec()
_PAIR = PairCodec()
_BY_KIND: dict[str, ActionCodec] = {"direction": _DIRECTION, "pair": _PAIR, "cell": CellCodec()}


def codec_for_kind(kind: str) -> ActionCodec:
    """The default codec of an action kind name (``"direction"``, ``"pair"``, ``"cell"``)."""
    try:
        return _BY_KIND[kind]
    except (KeyError, TypeError):
        raise ValueError(f"unknown action kind {kind!r}; expected one of {', '.join(map(repr, _BY_KIND))} "
                         "or an ActionCodec") from None
