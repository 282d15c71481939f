"""What the reports draw on a step's board: the action in words and the cells it names.

One place for it, used by the videos (:mod:`vlmgym.eval.report`) and the HTML report
(:mod:`vlmgym.eval.html_report`). Everything game-specific comes from the game's action codec
(:meth:`~vlmgym.core.actions.ActionCodec.describe`, :meth:`~vlmgym.core.actions.ActionCodec.cells`)
and the env's public :class:`~vlmgym.core.layout.BoardLayout`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vlmgym.core.actions import ActionCodec
from vlmgym.core.layout import BoardLayout

__all__ = ["describe_action", "mark_cells", "outline_boxes"]

Box = tuple[int, int, int, int]


def describe_action(rec: dict[str, Any], codec: ActionCodec) -> str:
    """The parsed action of a ``steps.jsonl`` record in words (``2 (down)``, ``(0, 1) (2, 1)``)."""
    if rec["status"] == "request_failed":
        return "no answer (request failed)"
    if rec["action"] is None:
        return "unparsable answer"
    return codec.describe(codec.from_json(rec["action"]))


def outline_boxes(layout: BoardLayout, codec: ActionCodec, action: Any) -> list[Box]:
    """Pixel boxes ``(x0, y0, x1, y1)`` (x1, y1 exclusive) of the on-board cells an action names.

    ``action`` is the JSON form stored in ``steps.jsonl`` (``None``: nothing to outline).
    """
    if action is None:
        return []
    return [layout.cell_box(r, c) for r, c in codec.cells(codec.from_json(action))
            if 0 <= r < layout.rows and 0 <= c < layout.cols]


def mark_cells(frame: np.ndarray, boxes: list[Box], color: tuple[int, int, int]) -> None:
    """Outline ``boxes`` on ``frame`` in place."""
    for x0, y0, x1, y1 in boxes:
        w = max(2, (x1 - x0) // 20)
        frame[y0:y0 + w, x0:x1] = color
        frame[y1 - w:y1, x0:x1] = color
        frame[y0:y1, x0:x0 + w] = color
        frame[y0:y1, x1 - w:x1] = color
