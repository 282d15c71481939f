"""Free model text -> structured action, plus the format and perception checks of the paper.

Everything here runs in time linear in the input and never raises on any ``str``: the regular
expressions have no nested or unbounded-overlap quantifiers, number tokens are length-capped
before ``int()``, and the answer is located with a single left-to-right scan.

Answer grammar (case-insensitive tags; the *last* ``<answer>`` block wins; an unterminated final
block runs to the end of the text; without any tag, a short reply is read as a whole). What the
inside of the block may say is the game's action codec's business (:mod:`vlmgym.core.actions`):

* direction (2048): ``<answer>2</answer>``, ``<answer>left</answer>``, ``<answer>3 (left)</answer>``.
  Digits 0-3 mean up, right, down, left. Naming two different directions is ambiguous.
* pair (tile games): exactly four integers, e.g. ``(0, 1) (2, 1)``, ``(0,1),(2,1)``,
  ``[0, 1] [2, 1]``, ``0 1 2 1``. Out-of-board numbers parse (the game then calls the move illegal).
* cell: two integers, optionally with a verb, e.g. ``(2, 3)`` or ``flag (2, 3)``.

Numbers are plain non-negative integers in ASCII digits; a minus sign of any script makes one
negative (off the board), and anything else numeric (``1.2``, ``1e3``, ``１``, ``1st``) makes the
answer unparsable: one tokenizer, :mod:`vlmgym.core.tokens`, defines this for every codec.
"""

from __future__ import annotations

import re

from vlmgym.core.actions import (
    DIRECTIONS,
    Action,
    ActionCodec,
    Parsed,
    codec_for_kind,
    parse_direction,
    parse_pair,
)

__all__ = [
    "DIRECTIONS",
    "Action",
    "Parsed",
    "TAGS",
    "board_cells",
    "cell_matches",
    "closed_block",
    "extract_block",
    "format_ok",
    "has_localization",
    "missing_tags",
    "parse_answer",
    "parse_direction",
    "parse_pair",
    "perceived_cells",
    "perception_cell_accuracy",
    "perception_exact",
]

#: An action kind name, accepted by :func:`parse_answer` for its default codec.
ActionKind = str

TAGS = ("<perception>", "</perception>", "<think>", "</think>", "<answer>", "</answer>")

_TAG_RE = {
    name: re.compile(rf"<[ \t]{{0,4}}(/?)[ \t]{{0,4}}{name}[ \t]{{0,4}}>", re.IGNORECASE | re.ASCII)
    for name in ("answer", "perception", "think")
}
_BARE_REPLY_MAX = 200  # a reply without tags is read whole only when it is this short
_COORD_CELL = re.compile(r"\(\s{0,4}([0-9]{1,3})\s{0,4},\s{0,4}([0-9]{1,3})\s{0,4}\)\s{0,4}:[ \t]{0,4}([^|\n;]{1,80})")


def extract_block(text: str, tag: str = "answer") -> str | None:
    """Content of the last ``<tag>...</tag>`` block (unterminated: to the end), or ``None``."""
    found = _last_block(text, tag)
    return None if found is None else found[0]


def closed_block(text: str, tag: str = "answer") -> str | None:
    """Content of the last ``<tag>`` block only if a closing ``</tag>`` ends it, else ``None``.

    The strict reading used by training rewards (``GameReward(strict=True)``): a bare reply or an
    unterminated last block is not an answer there, while evaluation reads both leniently.
    """
    found = _last_block(text, tag)
    return found[0] if found is not None and found[1] else None


def _last_block(text: str, tag: str) -> tuple[str, bool] | None:
    """(content, closed) of the last ``<tag>`` block, or ``None`` when there is none."""
    if not isinstance(text, str):
        return None
    last_open_end = -1
    close_after: int | None = None
    # Scanning may start at the last exact opening tag: whatever came before it is superseded
    # (the loop resets at every opening tag), so long replies cost only their tail.
    start = max(text.rfind(f"<{tag}>"), 0)
    for m in _TAG_RE[tag].finditer(text, start):
        if m.group(1):  # closing tag
            if last_open_end >= 0 and close_after is None:
                close_after = m.start()
        else:
            last_open_end, close_after = m.end(), None
    if last_open_end < 0:
        return None
    return text[last_open_end : close_after if close_after is not None else len(text)], close_after is not None


def _answer_content(text: str) -> tuple[str | None, str | None]:
    content = extract_block(text, "answer")
    if content is not None:
        return content, None
    if len(text) <= _BARE_REPLY_MAX:
        return text, None
    return None, "no <answer> tag"


def parse_answer(text: str, codec: ActionCodec | ActionKind) -> Parsed:
    """Parse a whole model response with a game's action codec (or the default codec of a kind
    name: ``"direction"``, ``"pair"``, ``"cell"``); never raises for a ``str``."""
    if isinstance(codec, str):
        codec = codec_for_kind(codec)
    if not isinstance(text, str):
        return Parsed(None, f"answer must be text, got {type(text).__name__}")
    content, reason = _answer_content(text)
    if content is None:
        return Parsed(None, reason)
    return codec.parse(content)


# -- format and perception ------------------------------------------------------------------
def missing_tags(text: str) -> list[str]:
    """The six paper tags absent from ``text`` (exact, lower-case), in canonical order."""
    if not isinstance(text, str):
        return list(TAGS)
    return [t for t in TAGS if t not in text]


def format_ok(text: str) -> bool:
    """The paper's format check: all six tags are present."""
    return not missing_tags(text)


def perception_exact(text: str, board_text: str) -> bool:
    """The paper's perception check: ``<perception>\\n{board}\\n</perception>`` appears verbatim."""
    return isinstance(text, str) and f"<perception>\n{board_text}\n</perception>" in text


def _grid(block: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("|")] for line in block.splitlines() if line.strip()]


def board_cells(board_text: str) -> list[list[str]]:
    """The cells of a board text (one line per row, cells separated by ``|``), stripped."""
    return _grid(board_text) if isinstance(board_text, str) else []


def perceived_cells(text: str, board_text: str) -> list[list[str | None]] | None:
    """What the perception block of ``text`` names at each cell of ``board_text``.

    One entry per ground-truth cell (same shape as :func:`board_cells`): the model's cell text,
    stripped, or ``None`` where it names nothing there; ``None`` without a perception block. Reads
    the ground-truth layout (rows of ``|``-separated cells) or coordinate-tagged cells such as
    ``(0, 1): Red circle`` (when any are present, only those count).
    """
    block = extract_block(text, "perception") if isinstance(text, str) else None
    if block is None:
        return None
    truth = board_cells(board_text)
    tagged = {(int(r), int(c)): v.strip() for r, c, v in _COORD_CELL.findall(block)}
    if tagged:
        return [[tagged.get((r, c)) for c in range(len(row))] for r, row in enumerate(truth)]
    pred = _grid(block)
    return [[pred[r][c] if r < len(pred) and c < len(pred[r]) else None for c in range(len(row))]
            for r, row in enumerate(truth)]


def cell_matches(seen: str | None, truth: str) -> bool:
    """Whether a perceived cell names the true one (case and padding ignored)."""
    return seen is not None and seen.casefold() == truth.casefold()


def perception_cell_accuracy(text: str, board_text: str) -> float:
    """Share of board cells the perception block names correctly (0.0 without a block).

    The cells are read by :func:`perceived_cells`; comparison ignores case and padding.
    """
    truth = board_cells(board_text)
    total = sum(len(row) for row in truth)
    seen = perceived_cells(text, board_text)
    if seen is None or total == 0:
        return 0.0
    hits = sum(cell_matches(s, t) for srow, trow in zip(seen, truth) for s, t in zip(srow, trow))
    return hits / total


def has_localization(text: str) -> bool:
    """Whether the perception block uses coordinate-tagged cells like ``(0,0): Yellow square``."""
    block = extract_block(text, "perception") if isinstance(text, str) else None
    return block is not None and _COORD_CELL.search(block) is not None
