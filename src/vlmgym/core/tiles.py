"""Coloured-shape tiles shared by the tile games (Shisen-Sho, Swap).

A tile *type* is a (colour, shape) pair; its board-text name is ``"<Colour> <shape>"`` (e.g.
``"Steel blue star"``). Sprites are drawn once per cell size with Pillow; composition happens in
:mod:`vlmgym.core.render`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["COLORS", "SHAPES", "select_names", "tile_name", "draw_shape_tile", "shape_atlas",
           "EMPTY_COLOR", "TILE_COLOR", "GRID_COLOR"]

#: The paper's extended palette, in a fixed order (names are used verbatim in board text).
COLORS: dict[str, tuple[int, int, int]] = {
    "Red": (230, 25, 25),
    "Green": (40, 180, 40),
    "Blue": (30, 60, 230),
    "Yellow": (245, 215, 0),
    "Magenta": (225, 0, 225),
    "Cyan": (0, 205, 215),
    "Maroon": (128, 0, 0),
    "Dark green": (0, 100, 0),
    "Navy": (0, 0, 128),
    "Olive": (128, 128, 0),
    "Purple": (128, 0, 128),
    "Teal": (0, 128, 128),
    "Orange": (255, 140, 0),
    "Brown": (139, 69, 19),
    "Steel blue": (70, 130, 180),
    "Pink": (255, 150, 190),
}
#: Shapes, in a fixed order.
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross", "star", "pentagon",
                           "hexagon")

GRID_COLOR = (60, 60, 66)        # gaps between cells
TILE_COLOR = (236, 236, 232)     # tile face behind the shape
EMPTY_COLOR = (92, 92, 100)      # an empty cell
_OUTLINE = (25, 25, 25)


def select_names(choice: int | Sequence[str] | None, universe: Sequence[str], what: str) -> list[str]:
    """Resolve ``choice`` (a count taking the first N, a list of names, or None = all).

    Names match case-insensitively; unknown names or bad counts raise ``ValueError`` listing the
    allowed values.
    """
    if choice is None:
        return list(universe)
    if isinstance(choice, (int, np.integer)) and not isinstance(choice, bool):
        if not 1 <= choice <= len(universe):
            raise ValueError(f"number of {what} must be from 1 to {len(universe)}, got {choice}")
        return list(universe[: int(choice)])
    if isinstance(choice, str) or not isinstance(choice, Sequence):
        raise ValueError(f"{what} must be a count or a list of names from {list(universe)}, got {choice!r}")
    lookup = {u.lower(): u for u in universe}
    out: list[str] = []
    for name in choice:
        key = str(name).lower()
        if key not in lookup:
            raise ValueError(f"unknown {_singular(what)} {name!r}; "
                             f"choose from {list(universe)}")
        if lookup[key] in out:
            raise ValueError(f"{what} lists {name!r} twice")
        out.append(lookup[key])
    if not out:
        raise ValueError(f"{what} must not be empty")
    return out


def _singular(what: str) -> str:
    if what.endswith("sses"):  # "classes" -> "class"
        return what[:-2]
    return what[:-1] if what.endswith("s") else what


def tile_name(color: str, shape: str) -> str:
    """Board-text name of a tile type, e.g. ``"Red circle"``."""
    return f"{color} {shape}"


def _polygon(cx: float, cy: float, r: float, n: int, rotation: float = -90.0) -> list[tuple[float, float]]:
    return [(cx + r * math.cos(math.radians(rotation + 360 * k / n)),
             cy + r * math.sin(math.radians(rotation + 360 * k / n))) for k in range(n)]


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[float, float, float, float],
                fill: tuple[int, int, int]) -> None:
    x0, y0, x1, y1 = box
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
    width = max(1, int(r / 10))
    kw: dict[str, Any] = {"fill": fill, "outline": _OUTLINE, "width": width}
    if shape == "circle":
        draw.ellipse(box, **kw)
    elif shape == "square":
        s = r * 0.85
        draw.rectangle((cx - s, cy - s, cx + s, cy + s), **kw)
    elif shape == "triangle":
        draw.polygon(_polygon(cx, cy + r * 0.15, r * 1.05, 3), **kw)
    elif shape == "diamond":
        draw.polygon([(cx, cy - r), (cx + r * 0.8, cy), (cx, cy + r), (cx - r * 0.8, cy)], **kw)
    elif shape == "cross":
        t = r * 0.34
        draw.polygon([(cx - t, cy - r), (cx + t, cy - r), (cx + t, cy - t), (cx + r, cy - t),
                      (cx + r, cy + t), (cx + t, cy + t), (cx + t, cy + r), (cx - t, cy + r),
                      (cx - t, cy + t), (cx - r, cy + t), (cx - r, cy - t), (cx - t, cy - t)], **kw)
    elif shape == "star":
        outer, inner = _polygon(cx, cy + r * 0.08, r * 1.05, 5), _polygon(cx, cy + r * 0.08, r * 0.45, 5, -54)
        draw.polygon([p for pair in zip(outer, inner) for p in pair], **kw)
    elif shape == "pentagon":
        draw.polygon(_polygon(cx, cy + r * 0.05, r, 5), **kw)
    elif shape == "hexagon":
        draw.polygon(_polygon(cx, cy, r, 6, 0), **kw)
    else:
        raise ValueError(f"unknown shape {shape!r}; choose from {list(SHAPES)}")


def draw_shape_tile(cell_px: int, color: str | None, shape: str | None) -> np.ndarray:
    """One cell sprite (cell_px x cell_px x 3): a tile with a coloured shape, or empty (None)."""
    gap = max(2, cell_px // 14)
    img = Image.new("RGB", (cell_px, cell_px), GRID_COLOR)
    draw = ImageDraw.Draw(img)
    face = (gap, gap, cell_px - 1 - gap, cell_px - 1 - gap)
    if color is None or shape is None:
        draw.rectangle(face, fill=EMPTY_COLOR)
    else:
        draw.rounded_rectangle(face, radius=max(2, cell_px // 12), fill=TILE_COLOR)
        m = cell_px * 0.2
        _draw_shape(draw, shape, (m, m, cell_px - m, cell_px - m), COLORS[color])
    return np.asarray(img, dtype=np.uint8).copy()


def shape_atlas(cell_px: int, types: Sequence[tuple[str, str]]) -> np.ndarray:
    """Atlas with the empty cell at index 0 and ``types[i]`` at index ``i + 1``."""
    atlas = np.empty((len(types) + 1, cell_px, cell_px, 3), dtype=np.uint8)
    atlas[0] = draw_shape_tile(cell_px, None, None)
    for i, (color, shape) in enumerate(types):
        atlas[i + 1] = draw_shape_tile(cell_px, color, shape)
    return atlas
