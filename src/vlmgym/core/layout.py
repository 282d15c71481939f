"""Where everything sits in a board picture: one :class:`BoardLayout`, computed once per env.

The renderer composes frames on it, the env reports its image shape from it, and everything that
points at cells in a picture (video outlines, ``vlmgym play`` clicks) asks it: ``cell_box(r, c)``
and ``cell_at(x, y)``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BAND_PX", "BoardLayout", "MAX_CELL_PX", "MAX_IMAGE_SIDE", "MIN_CELL_PX", "PAPER_IMAGE_SIZE"]

#: Height of the HUD line and width of the coordinate-label bands (one Qwen2.5-VL token).
BAND_PX = 28
#: ``(width, height)`` of the G1 paper's training images.
PAPER_IMAGE_SIZE = (640, 840)
#: Smallest and largest side of one cell in pixels (``cell_px``, also the cell chosen by ``fit``).
MIN_CELL_PX, MAX_CELL_PX = 8, 512
#: Largest width or height of a frame (``image_size``): 4096 x 4096 x 3 is 48 MiB per frame.
MAX_IMAGE_SIDE = 4096


@dataclass(frozen=True)
class BoardLayout:
    """Pixel geometry of a board picture.

    Attributes:
        rows, cols: board size in cells.
        cell_px: side of one cell in pixels.
        show_coords: row labels left of and column labels above the board (``band_px`` wide).
        hud: a ``band_px`` line above the board with the score.
        width, height: size of the whole picture.
        board_x, board_y: pixel of the top-left corner of cell ``(0, 0)`` (the board's origin).
        hud_x, hud_y: top-left pixel of the HUD line.
        band_px: width of the label bands and height of the HUD line.
    """

    rows: int
    cols: int
    cell_px: int
    show_coords: bool
    hud: bool
    width: int
    height: int
    board_x: int
    board_y: int
    hud_x: int
    hud_y: int
    band_px: int = BAND_PX

    @classmethod
    def compute(cls, rows: int, cols: int, cell_px: int, *, show_coords: bool = False, hud: bool = False,
                image_size: tuple[int, int] | None = None) -> BoardLayout:
        """The layout of a board with cells of ``cell_px``; ``image_size`` (width, height) centres
        it on a larger picture (``ValueError`` if the board does not fit)."""
        band = BAND_PX
        margin_left = band if show_coords else 0
        margin_top = (band if show_coords else 0) + (band if hud else 0)
        nat_w, nat_h = margin_left + cols * cell_px, margin_top + rows * cell_px
        if image_size is None:
            width, height = nat_w, nat_h
        else:
            width, height = (int(v) for v in image_size)
            if width < nat_w or height < nat_h:
                raise ValueError(f"image_size {image_size} is smaller than the board needs ({nat_w}x{nat_h});"
                                 " use a smaller cell size or a larger image")
        pad_l, pad_t = (width - nat_w) // 2, (height - nat_h) // 2
        return cls(rows=int(rows), cols=int(cols), cell_px=int(cell_px), show_coords=bool(show_coords),
                   hud=bool(hud), width=width, height=height, board_x=pad_l + margin_left,
                   board_y=pad_t + margin_top, hud_x=pad_l + margin_left, hud_y=pad_t)

    @classmethod
    def fit(cls, rows: int, cols: int, image_size: tuple[int, int], *, show_coords: bool = False,
            hud: bool = False) -> BoardLayout:
        """The layout with the largest cell (a multiple of 4 px, at most :data:`MAX_CELL_PX`) that
        fits ``image_size``; the board is centred."""
        band = BAND_PX
        avail_w = image_size[0] - (band if show_coords else 0)
        avail_h = image_size[1] - (band if show_coords else 0) - (band if hud else 0)
        cell = min(avail_w // cols, avail_h // rows, MAX_CELL_PX)
        cell -= cell % 4
        if cell < MIN_CELL_PX:
            raise ValueError(f"image_size {image_size} is too small for a {rows}x{cols} board")
        return cls.compute(rows, cols, int(cell), show_coords=show_coords, hud=hud, image_size=image_size)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(height, width, 3)``: the shape of one frame."""
        return (self.height, self.width, 3)

    @property
    def origin(self) -> tuple[int, int]:
        """``(x, y)`` of the top-left corner of cell ``(0, 0)``."""
        return (self.board_x, self.board_y)

    def cell_box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` of a cell (end exclusive); any row/col, on the board or not."""
        x0, y0 = self.board_x + col * self.cell_px, self.board_y + row * self.cell_px
        return (x0, y0, x0 + self.cell_px, y0 + self.cell_px)

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """The cell ``(row, col)`` under picture pixel ``(x, y)``, or ``None`` off the board."""
        px, py = x - self.board_x, y - self.board_y
        if px < 0 or py < 0:
            return None
        r, c = int(py // self.cell_px), int(px // self.cell_px)
        if r >= self.rows or c >= self.cols:
            return None
        return r, c
