"""What the reports draw on a step's board: the action in words and the cells it names.

One place for it, used by the videos (:mod:`vlmgym.eval.report`) and the HTML report
(:mod:`vlmgym.eval.html_report`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vlmgym.core.answer import DIRECTIONS

__all__ = ["describe_action", "mark_cells", "outline_boxes"]


def describe_action(rec: dict[str, Any]) -> str:
    """The parsed action of a ``steps.jsonl`` record in words (``2 (down)``, ``(0, 1) (2, 1)``)."""
    action = rec["action"]
    if rec["status"] == "request_failed":
        return "no answer (request failed)"
    if action is None:
        return "unparsable answer"
    if isinstance(action, int):
        return f"{action} ({DIRECTIONS[action]})" if 0 <= action < len(DIRECTIONS) else str(action)
    (r1, c1), (r2, c2) = action
    return f"({r1}, {c1}) ({r2}, {c2})"


def outline_boxes(vec: Any, action: Any) -> list[tuple[int, int, int, int]]:
    """Pixel boxes ``(x0, y0, x1, y1)`` (x1, y1 exclusive) of the cells a parsed action names.

    The one place that turns an action into cell outlines, for the videos and the HTML report:
    pair actions (``[[r1, c1], [r2, c2]]`` as read back from ``steps.jsonl``) give one box per
    on-board cell; other actions none.
    """
    if not isinstance(action, (list, tuple)):
        return []
    renderer = vec.engine.renderer
    cell = renderer.cell_px
    boxes = []
    for r, c in action:
        if 0 <= r < renderer.rows and 0 <= c < renderer.cols:
            y0, x0 = renderer.board_y + r * cell, renderer.board_x + c * cell
            boxes.append((x0, y0, x0 + cell, y0 + cell))
    return boxes


def mark_cells(frame: np.ndarray, boxes: list[tuple[int, int, int, int]], color: tuple[int, int, int]) -> None:
    """Outline ``boxes`` on ``frame`` in place."""
    for x0, y0, x1, y1 in boxes:
        w = max(2, (x1 - x0) // 20)
        frame[y0:y0 + w, x0:x1] = color
        frame[y1 - w:y1, x0:x1] = color
        frame[y0:y1, x0:x0 + w] = color
        frame[y0:y1, x1 - w:x1] = color
