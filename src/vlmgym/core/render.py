"""Batched frame composition from a sprite atlas drawn once.

How a frame is made
-------------------
Every frame row is cut into *units*: runs of ``unit`` pixels, where ``unit`` divides every
horizontal segment of the layout (margins, cells, padding). A lookup table holds every unit of
every sprite row plus every unit of a static background frame (margins, coordinate labels, the
HUD caption). Composing a batch is then:

1. one broadcasted add that writes, for the board rows, the table index of each unit
   (sprite id x sprite size + offset inside the sprite); background rows keep static indices;
2. one ``np.take`` of ``unit * 3``-byte elements straight into the contiguous output buffer;
3. a few small writes of HUD digit glyphs (when the HUD is on).

No per-cell Python loop, no temporary frame-sized arrays; throughput is measured against
``np.copyto`` in ``benchmarks/``.

Pixels never depend on the machine's fonts: text uses the TrueType font embedded in Pillow
(``ImageFont.load_default(size)``), so frames are identical wherever the same Pillow runs.
"""

from __future__ import annotations

import math
import weakref
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vlmgym.core.layout import BAND_PX, PAPER_IMAGE_SIZE, BoardLayout

__all__ = ["Renderer", "font", "draw_centered_text", "PAPER_IMAGE_SIZE", "BAND_PX"]

_HUD_DIGITS = 20


@lru_cache(maxsize=64)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's embedded TrueType font at ``size`` px (identical on every machine)."""
    return ImageFont.load_default(size=max(1, int(size)))


def draw_centered_text(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], text: str,
                       color: tuple[int, int, int], max_size: int, fill_ratio: float = 0.8) -> None:
    """Draw ``text`` centred in ``box`` (x0, y0, x1, y1), shrinking the font until it fits."""
    x0, y0, x1, y1 = box
    w, h = (x1 - x0) * fill_ratio, (y1 - y0) * fill_ratio
    size = max_size
    while size > 6:
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font(size))
        if right - left <= w and bottom - top <= h:
            break
        size -= 1
    draw.text(((x0 + x1) / 2, (y0 + y1) / 2), text, fill=color, font=font(size), anchor="mm")


class _FrameOwner:
    """Owner of a frame buffer while any frame array composed into it is alive.

    ``np.asarray`` of this object is a *read-only* array whose ``base`` is this object. NumPy stops
    collapsing view bases at a non-array, so every view of those frames keeps the owner alive, and
    its finalizer (which hands the buffer back for reuse) runs only once the last of them is gone.
    Read-only (the interface declares the memory read-only, so ``setflags(write=True)`` is refused
    too) guarantees that a returned buffer still holds exactly the frames it was composed with.
    """

    __slots__ = ("__array_interface__", "buffer", "__weakref__")

    def __init__(self, buffer: np.ndarray):
        self.buffer = buffer
        iface = dict(buffer.__array_interface__)
        iface["data"] = (iface["data"][0], True)
        self.__array_interface__ = iface


class _Spare:
    """A frame buffer nobody looks at any more, and what it shows (for dirty-cell updates)."""

    __slots__ = ("buffer", "ids", "hud")

    def __init__(self, buffer: np.ndarray, ids: np.ndarray, hud: np.ndarray | None):
        self.buffer, self.ids, self.hud = buffer, ids, hud


def _return_spare(spares: dict[tuple[int, ...], _Spare], spare: _Spare) -> None:
    spares[spare.buffer.shape] = spare  # one per batch shape: frames N-1 die during step N+1
    while len(spares) > 4:
        spares.pop(next(iter(spares)))


class Renderer:
    """Composes batches of board frames (uint8, B x H x W x 3) from per-cell sprite ids.

    Args:
        atlas: ``(n, cell_px, cell_px, 3)`` uint8 sprites (each includes its share of the gap).
        rows, cols: board size in cells.
        background: colour of margins and padding.
        label_color: colour of coordinate labels and the HUD.
        show_coords: draw row numbers left of and column numbers above the board.
        hud: add a line above the board showing the score.
        image_size: ``(width, height)`` of the output; the board keeps its aspect ratio and is
            centred on the background. ``None`` = natural size (multiples of 28 px by default).
        layout: the :class:`~vlmgym.core.layout.BoardLayout` to compose on (then ``rows``,
            ``cols``, ``show_coords``, ``hud`` and ``image_size`` come from it).
    """

    def __init__(self, atlas: np.ndarray, rows: int | None = None, cols: int | None = None, *,
                 background: tuple[int, int, int] = (40, 40, 40),
                 label_color: tuple[int, int, int] = (235, 235, 235),
                 show_coords: bool = False, hud: bool = False,
                 image_size: tuple[int, int] | None = None,
                 hud_label: str = "Score", layout: BoardLayout | None = None):
        if atlas.ndim != 4 or atlas.shape[1] != atlas.shape[2] or atlas.shape[3] != 3:
            raise ValueError(f"atlas must be (n, s, s, 3), got {atlas.shape}")
        if layout is None:
            if rows is None or cols is None:
                raise ValueError("give rows and cols, or a layout")
            layout = BoardLayout.compute(rows, cols, int(atlas.shape[1]), show_coords=show_coords, hud=hud,
                                         image_size=image_size)
        elif layout.cell_px != atlas.shape[1]:
            raise ValueError(f"the atlas has {atlas.shape[1]} px sprites but the layout {layout.cell_px} px cells")
        self.layout = layout
        self.rows, self.cols = rows, cols = layout.rows, layout.cols
        self.cell_px = cell = layout.cell_px
        self.hud = hud = layout.hud
        self.show_coords = layout.show_coords
        self.width, self.height = width, height = layout.width, layout.height
        self.board_x, self.board_y = layout.board_x, layout.board_y
        self.hud_x, self.hud_y = layout.hud_x, layout.hud_y

        # Unit width: divides every horizontal segment so a frame row is a sequence of units.
        unit = math.gcd(cell, self.board_x, width - self.board_x - cols * cell) or cell
        self.unit = unit
        upc = cell // unit
        units = width // unit

        bg = self._background(background, label_color, hud_label)
        self.background = bg
        n = atlas.shape[0]
        self.num_sprites = n
        sprite_units = np.ascontiguousarray(atlas).reshape(n * cell * upc, unit * 3)
        table = np.concatenate([sprite_units, bg.reshape(height * units, unit * 3)])
        self._elem = np.dtype((np.void, unit * 3))
        self._table = np.ascontiguousarray(table).view(self._elem)[:, 0]
        n_sprite_units = n * cell * upc

        # Static index pieces for board rows: idx = sprite_id * mult[u] + off[r, p, u].
        u = np.arange(units)
        first_u, last_u = self.board_x // unit, (self.board_x + cols * cell) // unit
        on_board = (u >= first_u) & (u < last_u)
        self._cell_of_unit = np.where(on_board, (u - first_u) // upc, 0)
        self._mult = np.where(on_board, cell * upc, 0).astype(np.intp)
        r = np.arange(rows)[:, None, None]
        p = np.arange(cell)[None, :, None]
        y = self.board_y + r * cell + p
        self._off = np.where(
            on_board[None, None, :],
            p * upc + ((u - first_u) % upc)[None, None, :],
            n_sprite_units + y * units + u[None, None, :],
        ).astype(np.intp)
        self._bg_idx = (n_sprite_units + np.arange(height * units)).reshape(height, units).astype(np.intp)
        self._idx_cache: dict[int, np.ndarray] = {}
        self._spares: dict[tuple[int, ...], _Spare] = {}  # buffers no frame refers to any more
        self._atlas = np.ascontiguousarray(atlas)
        self._units = units
        if hud:
            self._glyphs, self._glyph_w = self._digit_glyphs(background, label_color)
            self._hud_digits_x = self.hud_x + self._hud_label_w

    # -- static pictures ---------------------------------------------------------------------
    def _background(self, color: tuple[int, int, int], label_color: tuple[int, int, int],
                    hud_label: str) -> np.ndarray:
        img = Image.new("RGB", (self.width, self.height), color)
        draw = ImageDraw.Draw(img)
        cell, band = self.cell_px, BAND_PX
        size = int(band * 0.6)
        if self.show_coords:
            for c in range(self.cols):
                x0 = self.board_x + c * cell
                draw_centered_text(draw, (x0, self.board_y - band, x0 + cell, self.board_y),
                                   str(c), label_color, size)
            for r in range(self.rows):
                y0 = self.board_y + r * cell
                draw_centered_text(draw, (self.board_x - band, y0, self.board_x, y0 + cell),
                                   str(r), label_color, size)
        self._hud_label_w = 0
        if self.hud:
            text = f"{hud_label}: "
            draw.text((self.hud_x + 4, self.hud_y + band / 2), text, fill=label_color,
                      font=font(size), anchor="lm")
            self._hud_label_w = 4 + int(math.ceil(draw.textlength(text, font=font(size))))
        return np.asarray(img, dtype=np.uint8).copy()

    def _digit_glyphs(self, color: tuple[int, int, int],
                      label_color: tuple[int, int, int]) -> tuple[np.ndarray, int]:
        size = int(BAND_PX * 0.6)
        gw = int(math.ceil(max(font(size).getlength(d) for d in "0123456789"))) + 1
        glyphs = np.empty((11, BAND_PX, gw, 3), dtype=np.uint8)
        for k, ch in enumerate("0123456789 "):
            img = Image.new("RGB", (gw, BAND_PX), color)
            ImageDraw.Draw(img).text((gw / 2, BAND_PX / 2), ch, fill=label_color, font=font(size),
                                     anchor="mm")
            glyphs[k] = np.asarray(img)
        return glyphs, gw

    # -- composition -------------------------------------------------------------------------
    def _index_buffer(self, b: int) -> np.ndarray:
        buf = self._idx_cache.get(b)
        if buf is None:
            if len(self._idx_cache) > 8:
                self._idx_cache.clear()
            buf = np.broadcast_to(self._bg_idx, (b, self.height, self._units)).copy()
            self._idx_cache[b] = buf
        return buf

    def compose(self, ids: np.ndarray, hud_values: np.ndarray | None = None,
                out: np.ndarray | None = None) -> np.ndarray:
        """Frames for sprite ids ``(B, rows, cols)``.

        With ``out``: composed into it, whole. Without: returns a new *read-only* array. Its memory
        is recycled only after every array that showed it is gone, and a recycled buffer is brought
        up to date by redrawing just the cells (and HUD digits) that differ from what it showed, so
        a step loop that drops its old observations pays only for what changed. Large fresh
        buffers would also be new pages the kernel zeroes first (over glibc's 32 MB mmap
        threshold), which costs as much as composing.
        """
        b = ids.shape[0]
        if ids.shape[1:] != (self.rows, self.cols):
            raise ValueError(f"ids must be (B, {self.rows}, {self.cols}), got {ids.shape}")
        ids = np.asarray(ids, dtype=np.intp)
        hud = None if not self.hud or hud_values is None else np.asarray(hud_values, dtype=np.int64)
        if out is not None:
            if out.shape != (b, self.height, self.width, 3) or not out.flags.c_contiguous:
                raise ValueError("out must be a C-contiguous uint8 array of shape (B, H, W, 3)")
            self._compose_full(out, ids, hud)
            return out
        shape = (b, self.height, self.width, 3)
        spare = self._spares.pop(shape, None)
        if spare is None:
            buffer = np.empty(shape, dtype=np.uint8)
            self._compose_full(buffer, ids, hud)
        else:
            buffer = spare.buffer
            self._update(buffer, spare.ids, ids, spare.hud, hud)
        owner = _FrameOwner(buffer)
        weakref.finalize(owner, _return_spare, self._spares,
                         _Spare(buffer, ids.copy(), None if hud is None else hud.copy()))
        return np.asarray(owner)

    def _compose_full(self, out: np.ndarray, ids: np.ndarray, hud: np.ndarray | None,
                      frames: np.ndarray | None = None) -> None:
        """Compose every frame of ``out``, or only ``frames`` (indices into the batch)."""
        sel = ids if frames is None else ids[frames]
        b = sel.shape[0]
        idx = self._index_buffer(b)
        cell = self.cell_px
        board = idx[:, self.board_y : self.board_y + self.rows * cell].reshape(
            b, self.rows, cell, self._units)
        np.add((sel[:, :, self._cell_of_unit] * self._mult)[:, :, None, :], self._off[None], out=board)
        flat_out = out.reshape(len(out), self.height * self._units, self.unit * 3).view(self._elem)[..., 0]
        if frames is None:
            np.take(self._table, idx.reshape(b, -1), out=flat_out, mode="clip")
        else:
            for j, f in enumerate(frames.tolist()):  # each frame is contiguous: one take apiece
                np.take(self._table, idx[j].reshape(-1), out=flat_out[f], mode="clip")
        if hud is not None:
            self._draw_hud(out, hud, None if frames is None else frames)

    def _update(self, buffer: np.ndarray, old_ids: np.ndarray, ids: np.ndarray,
                old_hud: np.ndarray | None, hud: np.ndarray | None) -> None:
        """Bring a buffer showing ``old_ids``/``old_hud`` up to ``ids``/``hud``."""
        if (hud is None) != (old_hud is None):
            self._compose_full(buffer, ids, hud)
            return
        b = ids.shape[0]
        changed = ids != old_ids
        per_frame = changed.reshape(b, -1).sum(axis=1)
        # Scattered cell writes cost more per byte than composing: a frame with more than about
        # 1/8 of its cells changed (measured on 4x4 and 6x6 batches of 64) is composed whole.
        whole = per_frame * 8 > self.rows * self.cols
        if whole.sum() * 2 > b:  # mostly whole frames: one batched pass beats one take per frame
            self._compose_full(buffer, ids, hud)
            return
        if whole.any():
            self._compose_full(buffer, ids, hud, frames=np.flatnonzero(whole))
            changed &= ~whole[:, None, None]
        if changed.any():
            s = self.cell_px
            cells = buffer[:, self.board_y : self.board_y + self.rows * s,
                           self.board_x : self.board_x + self.cols * s].reshape(
                b, self.rows, s, self.cols, s, 3)
            bb, rr, cc = np.nonzero(changed)
            cells[bb, rr, :, cc] = self._atlas[ids[bb, rr, cc]]
        if hud is not None and old_hud is not None:
            rows = np.flatnonzero((hud != old_hud) & ~whole)
            if rows.size:
                self._draw_hud(buffer, hud, rows)

    def _draw_hud(self, out: np.ndarray, values: np.ndarray, rows: np.ndarray | None = None) -> None:
        """Write the score digits of every frame, or of frames ``rows`` after clearing their digits."""
        gw = self._glyph_w
        x0, y0 = self._hud_digits_x, self.hud_y
        fit = max(0, min(_HUD_DIGITS, (self.width - x0) // gw))
        if fit == 0:
            return
        sel: np.ndarray | slice = slice(None)
        if rows is not None:  # a recycled frame: old digits may be longer than the new ones
            area = (slice(y0, y0 + BAND_PX), slice(x0, x0 + fit * gw))
            out[(rows,) + area] = self.background[area]
            values, sel = values[rows], rows
        values = np.abs(values)
        ndig = np.maximum(1, np.floor(np.log10(np.maximum(values, 1))).astype(np.int64) + 1)
        for k in range(min(fit, int(ndig.max()))):
            # k-th digit from the left; blank glyph (10) past each number's end
            power = np.maximum(ndig - 1 - k, 0)
            digit = (values // (10 ** power)) % 10
            glyph = np.where(k < ndig, digit, 10)
            out[sel, y0 : y0 + BAND_PX, x0 + k * gw : x0 + (k + 1) * gw] = self._glyphs[glyph]
