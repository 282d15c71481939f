"""Swap (match-3), batched.

Everything here works on whole batches of boards at once: line finding, gravity, refill and
cascades (:meth:`Swap.apply`), the exact valid-swap enumeration (:func:`valid_swap_mask`), the
deal (:meth:`Swap._fill`) and the reshuffle (:meth:`Swap._reshuffle`). The readable per-board
reference that the tests hold this module to is ``tests/reference/swap_ref.py``; both follow the
draw protocol below, so they produce identical boards from identical random streams.

Draw protocol (per env, from its own stream in ``batch["rng"]``; an illegal swap draws nothing)
------------------------------------------------------------------------------------------------
* **Refill.** Every cascade round of a valid swap takes one block of ``rows * cols`` uniforms
  ``u``. After the matched tiles are removed and the tiles above have fallen, the empty cell
  ``(r, c)`` gets type ``floor(u[r * cols + c] * T)`` (``T`` = number of tile types); the draws of
  the other cells go unused. Up to :data:`MAX_CASCADE_ROUNDS` rounds.
* **Deal attempt.** One block of ``2 + rows * cols`` uniforms: ``u[0]`` picks the *planted* type
  (``floor(u[0] * T)``), ``u[1]`` picks a *template* from :func:`swap_templates` (three cells that
  one swap turns into a line of three), and the planted type is written to those three cells. Every
  other cell ``(r, c)`` then takes the ``floor(u[2 + r * cols + c] * n)``-th (in type order) of the
  ``n`` types that do not complete a line of three with the cells set before it in row-major order
  (or planted). The attempt fails if some cell has no such type; a successful one has no line and
  at least one valid swap by construction. (A cell only depends on cells to its left and above and
  on planted cells, so the batched code fills a whole anti-diagonal at once with the same result.)
* **Deal.** Up to :data:`FILL_ATTEMPTS` deal attempts. With four or more tile types an attempt
  cannot fail (a cell is forbidden at most three types: the pair to its left, the pair above, and
  the planted type). If every attempt fails (only possible with three types, and vanishingly rare)
  the board is 2x2 blocks of types 0 and 1 alternating like a chessboard, which has no line and a
  valid swap.
* **Reshuffle** (when a step leaves no valid swap, or a line after the cascade cap). One block of
  ``RESHUFFLE_TRIES * rows * cols`` raw 64-bit words. Try ``j`` orders the board's tiles (read in
  row-major order) by the words ``j * rows * cols ...`` (a stable sort) and writes them back in
  row-major order; the first try with no line and a valid swap is the new board. If none is, the
  env gets a fresh deal (with draws after the block).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

import numpy as np

from vlmgym.core import params
from vlmgym.core import rng as rngmod
from vlmgym.core.actions import PairCodec
from vlmgym.core.explain import Explanation, board_cells
from vlmgym.core.explain import cell_text as _cell
from vlmgym.core.game import Batch, FieldSpec, Game, Outcome, Scorer, observation_sentence, register_game
from vlmgym.core.state import GameState
from vlmgym.core.tiles import COLORS, GRID_COLOR, SHAPES, select_names, shape_atlas, tile_name

__all__ = ["Swap", "find_lines", "valid_swap_mask", "swap_templates", "swap_lines", "FILL_ATTEMPTS",
           "RESHUFFLE_TRIES", "MAX_CASCADE_ROUNDS", "MIN_TYPES", "MIN_SIDE", "MAX_SIDE"]

#: Deal attempts before the fixed last-resort board (see the module docstring).
FILL_ATTEMPTS = 16
#: Random rearrangements a reshuffle tries before dealing a fresh board.
RESHUFFLE_TRIES = 16
#: Cascade rounds per step before a board that still has a line is reshuffled instead.
MAX_CASCADE_ROUNDS = 64
#: Fewest tile types. One type: every board has a line. Two: random refills almost always form
#: new lines (measured on 8x8: about 50 cascade rounds per valid swap, most steps hitting the cap),
#: and almost no rearrangement of the tiles is free of lines.
MIN_TYPES = 3
MIN_SIDE, MAX_SIDE = 3, 16


# -- batched rules ------------------------------------------------------------------------------
def find_lines(boards: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lines of three or more identical tiles in full boards ``(B, R, C)``.

    Returns ``(matched, windows, lines)``: ``matched`` (B, R, C) bool marks every tile in a
    horizontal or vertical line; ``windows`` (B,) counts the windows of three equal tiles; ``lines``
    (B,) counts maximal lines. A line of length L has L - 2 windows, so ``windows - lines`` is the
    sum of L - 3 over all lines (the long-line bonus).
    """
    b, r, c = boards.shape
    n = r * c
    flat = boards.reshape(b, n)  # row-major cells: a shift by one row is a shift by c
    eq = flat[:, 1:] == flat[:, :-1]
    win_h = eq[:, 1:] & eq[:, :-1]                    # window of cells i..i+2 is one type
    win_h &= np.arange(n - 2) % c <= c - 3            # ... and does not wrap into the next row
    eq = flat[:, c:] == flat[:, :-c]
    win_v = eq[:, c:] & eq[:, :-c]                    # window of cells i, i+c, i+2c
    matched = np.zeros((b, n), dtype=bool)
    for k in range(3):
        matched[:, k : k + n - 2] |= win_h
        matched[:, k * c : k * c + n - 2 * c] |= win_v
    windows = win_h.sum(axis=1) + win_v.sum(axis=1)
    # a window that continues the previous one of the same line does not start a new line
    continued = (win_h[:, 1:] & win_h[:, :-1]).sum(axis=1) + (win_v[:, c:] & win_v[:, :-c]).sum(axis=1)
    return matched.reshape(b, r, c), windows.astype(np.int64), (windows - continued).astype(np.int64)


def valid_swap_mask(boards: np.ndarray) -> np.ndarray:
    """Which adjacent swaps of ``boards`` (B, R, C) are valid, in flat action order (B, A).

    A swap is valid when the two tiles differ and, after the swap, one of the two cells lies in a
    line of three (on a line-free board: the swap creates a line). Instead of trying every swap,
    each cell is asked, for each of its four neighbours, "would the neighbour's tile complete a
    line here?" using only windows that do not contain the neighbour itself (a window containing
    both swapped cells would need the two tiles to be equal). Action order: horizontal pairs
    ``(r, c)-(r, c+1)`` row-major, then vertical pairs ``(r, c)-(r+1, c)`` row-major.
    """
    b, r, c = boards.shape
    # Padded boards flattened row by row: a shift by (dr, dc) is one contiguous slice, so every
    # comparison runs over long rows (the padding columns compute garbage that is cut off at the
    # end). -1 never equals a tile type; the extra bottom row keeps the last slices in bounds.
    w = c + 4
    pad = np.full((b, r + 5, w), -1, dtype=np.int16)
    pad[:, 2 : r + 2, 2 : c + 2] = boards
    flat = pad.reshape(b, (r + 5) * w)
    n, base = r * w, 2 * w + 2

    def at(dr: int, dc: int) -> np.ndarray:
        o = base + dr * w + dc
        return flat[:, o : o + n]

    def completes(dr: int, dc: int) -> np.ndarray:
        """Whether the tile of the neighbour at (dr, dc) would complete a line in each cell."""
        v = at(dr, dc)
        er, ec = dc, dr                                  # the perpendicular axis
        back1, back2 = at(-dr, -dc) == v, at(-2 * dr, -2 * dc) == v
        side_m1, side_p1 = at(-er, -ec) == v, at(er, ec) == v
        side_m2, side_p2 = at(-2 * er, -2 * ec) == v, at(2 * er, 2 * ec) == v
        out = back1 & back2
        out |= side_m1 & side_m2
        out |= side_m1 & side_p1
        out |= side_p1 & side_p2
        return out.reshape(b, r, w)[:, :, :c]

    h = (boards[:, :, :-1] != boards[:, :, 1:]) & (completes(0, 1)[:, :, :-1] | completes(0, -1)[:, :, 1:])
    v = (boards[:, :-1, :] != boards[:, 1:, :]) & (completes(1, 0)[:, :-1, :] | completes(-1, 0)[:, 1:, :])
    return np.concatenate([h.reshape(b, r * (c - 1)), v.reshape(b, (r - 1) * c)], axis=1)


def swap_templates(rows: int, cols: int) -> np.ndarray:
    """Every set of three cells that one adjacent swap turns into a line of three.

    Returns flat cell indices ``(n, 3)`` in this order: horizontal lines, then vertical lines; lines
    by their first cell in row-major order; the cell left out of the line (first, middle, last); the
    neighbour that brings the tile in (up, down, left, right, skipping cells off the board or in the
    line). The three cells are the line's two other cells and that neighbour.
    """
    out: list[list[int]] = []
    for dr, dc in ((0, 1), (1, 0)):
        for r0 in range(rows - 2 * dr):
            for c0 in range(cols - 2 * dc):
                line = [(r0 + k * dr, c0 + k * dc) for k in range(3)]
                for k in range(3):
                    rest = [cell for j, cell in enumerate(line) if j != k]
                    for nr, nc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                        src = (line[k][0] + nr, line[k][1] + nc)
                        if 0 <= src[0] < rows and 0 <= src[1] < cols and src not in line:
                            out.append([p * cols + q for p, q in (*rest, src)])
    return np.array(out, dtype=np.int64)


def _diagonals(rows: int, cols: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per anti-diagonal (r + c constant): its flat cells (m,) and, per cell, the other two cells of
    every window of three through it (m, 6, 2), padded with the index ``rows * cols`` (a cell that
    is never set)."""
    out = []
    for d in range(rows + cols - 1):
        cells = [(r, d - r) for r in range(rows) if 0 <= d - r < cols]
        pairs = np.full((len(cells), 6, 2), rows * cols, dtype=np.int64)
        for j, (r, c) in enumerate(cells):
            k = 0
            for dr, dc in ((0, 1), (1, 0)):
                for start in (-2, -1, 0):
                    window = [(r + (start + i) * dr, c + (start + i) * dc) for i in range(3)]
                    if all(0 <= p < rows and 0 <= q < cols for p, q in window):
                        pairs[j, k] = [p * cols + q for p, q in window if (p, q) != (r, c)]
                        k += 1
        out.append((np.array([r * cols + c for r, c in cells], dtype=np.int64), pairs))
    return out


def _chessboard_blocks(rows: int, cols: int) -> np.ndarray:
    """The deal's last resort: 2x2 blocks of types 0 and 1, alternating (no line, a valid swap:
    moving the type-1 tile at (2, 1) right completes rows 0-2 of column 2)."""
    r, c = np.indices((rows, cols))
    return ((r // 2 + c // 2) % 2).astype(np.uint8)


def _check_side(name: str, value: Any) -> int:
    return params.integer(f"Swap {name}", value, MIN_SIDE, MAX_SIDE)


def _resolve_rules(rows: Any, cols: Any, colors: Any, shapes: Any) -> dict[str, Any]:
    """Validated rules in canonical form (``ValueError`` saying what is allowed)."""
    color_names = select_names(colors, list(COLORS), "colors")
    shape_names = select_names(shapes, SHAPES, "shapes")
    num_types = len(color_names) * len(shape_names)
    if num_types < MIN_TYPES:
        raise ValueError(
            f"Swap needs at least {MIN_TYPES} tile types (colors x shapes) so that a board with"
            f" no line of three can be dealt; got {len(color_names)} colour(s) x"
            f" {len(shape_names)} shape(s) = {num_types}")
    return {"rows": _check_side("rows", rows), "cols": _check_side("cols", cols),
            "colors": color_names, "shapes": shape_names}


@register_game("swap")
class Swap(Game):
    """Swap (match-3) on a ``rows`` x ``cols`` board of coloured-shape tiles.

    ## Description
    Every cell holds a tile of one of ``colors x shapes`` types. A move swaps two orthogonally
    adjacent tiles and is valid only if it creates a horizontal or vertical line of three or more
    identical tiles; otherwise nothing changes. After a valid swap every line is removed at once,
    the tiles above fall down, new random tiles drop in from the top, and this repeats while the
    new tiles form lines (cascades). If no valid swap remains afterwards, the board's tiles are
    reshuffled into a position with no line and at least one valid swap.

    ## Action Space
    ``text`` mode: the model's reply, e.g. ``<answer>(3, 4) (3, 5)</answer>`` (0-indexed row,
    column from the top-left; either order). ``index`` mode: ``Discrete(rows*(cols-1) +
    (rows-1)*cols)`` over adjacent pairs only: first the horizontal pairs ``(r, c)-(r, c+1)`` in
    row-major order, then the vertical pairs ``(r, c)-(r+1, c)``. Swapping is symmetric, so a
    compact space of real moves beats all ``(rows*cols)**2`` ordered pairs (97% of which would be
    non-adjacent on 8x8); ``info["action_mask"]`` is exactly the valid swaps.

    ## Observation Space
    The board picture (``rows * cell_px`` by ``cols * cell_px``), the board text, or both.

    ## Rewards
    ``binary`` (the paper's training reward): +1 for a valid swap, -1 otherwise (unparsable answer,
    cells off the board or not adjacent, a swap that makes no line). ``score``: points of the step:

    | points | for |
    |---|---|
    | 1 | each removed tile (a tile in two crossing lines counts once) |
    | +L-3 | each line of L >= 4 tiles (4: +1, 5: +2, ...) |
    | x k | everything removed in cascade round k (k = 1 for the swap's own lines) |

    ## Starting State
    A random board with no line and at least one valid swap (see the module docstring for how it
    is drawn).

    ## Episode End
    Never terminates. ``VLMGym/Swap-v0`` truncates after 100 steps (the paper's 100-step
    evaluation). ``info`` reports ``cascades`` (rounds after the first), ``tiles_removed`` and
    ``reshuffles`` (0 or 1) of each step.

    ## Arguments
    ``rows``, ``cols`` (3..16, default 8); ``colors`` (a count taking the first N of the palette,
    or a list of names; default 4: Red, Green, Blue, Yellow); ``shapes`` (a count or a list of
    names; default 3: circle, square, triangle). At least 3 tile types are required.

    ## Registered Configurations
    ``VLMGym/Swap-v0``: 8x8, 4 colours x 3 shapes (the paper's setting).

    ## Board text
    One line per row, cells joined by `` | ``, each the tile name such as ``Red circle``.
    """

    codec = PairCodec(tool_name="swap_tiles", noun="tile", tool_summary=(
        "Swap two neighbouring tiles; the swap counts only if it lines up three or more identical tiles."))
    sampler_steps = 0

    def __init__(self, rows: int = 8, cols: int = 8, colors: int | Sequence[str] = 4,
                 shapes: int | Sequence[str] = 3):
        self.rules = _resolve_rules(rows, cols, colors, shapes)
        self.rows, self.cols = self.rules["rows"], self.rules["cols"]
        self.colors, self.shapes = list(self.rules["colors"]), list(self.rules["shapes"])
        self.types = [(c, s) for c in self.colors for s in self.shapes]
        self.num_types = len(self.types)
        self.names = [tile_name(c, s) for c, s in self.types]
        self.num_actions = self.rows * (self.cols - 1) + (self.rows - 1) * self.cols
        self._templates = swap_templates(self.rows, self.cols)
        self._diagonals = _diagonals(self.rows, self.cols)
        self._fallback = _chessboard_blocks(self.rows, self.cols)

    # -- state -------------------------------------------------------------------------------
    @classmethod
    def state_fields(cls, rules: Mapping[str, Any]) -> dict[str, FieldSpec]:
        canonical = _resolve_rules(rules["rows"], rules["cols"], rules["colors"], rules["shapes"])
        if canonical != dict(rules):
            raise ValueError(f"rules {dict(rules)} are not in canonical form {canonical}")
        return {"board": ((canonical["rows"], canonical["cols"]), np.dtype(np.uint8))}

    @classmethod
    def check_values(cls, rules: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        num_types = len(rules["colors"]) * len(rules["shapes"])
        board = arrays["board"][None]
        if int(board.max()) >= num_types:
            raise ValueError(f"board holds tile type {int(board.max())} but there are only {num_types} types")
        if find_lines(board)[0].any():
            raise ValueError("board has a line of three identical tiles (a Swap position never does)")
        if not valid_swap_mask(board).any():
            raise ValueError("board has no valid swap (a Swap position always has one)")

    # -- rules -------------------------------------------------------------------------------
    def deal(self, batch: Batch) -> None:
        batch["board"][:] = self._deal_boards(batch["rng"])

    def _fill(self, rng: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One deal attempt per stream of ``rng`` (all advance by ``2 + rows*cols``).

        Returns (boards (n, R, C) uint8, ok (n,) bool); see the module docstring.
        """
        n, cells, t = len(rng), self.rows * self.cols, self.num_types
        u = rngmod.draw_uniform(rng, 2 + cells)
        types = np.arange(t)
        planted = rngmod.uniform_below(u[:, 0], t)
        tpl = self._templates[rngmod.uniform_below(u[:, 1], len(self._templates))]
        board = np.full((n, cells + 1), -1, dtype=np.int16)  # the extra cell is never set
        board[np.arange(n)[:, None], tpl] = planted[:, None]
        ok = np.ones(n, dtype=bool)
        for idx, pairs in self._diagonals:
            x, y = board[:, pairs[..., 0]], board[:, pairs[..., 1]]        # (n, m, 6)
            completes = (x >= 0) & (x == y)
            allowed = ~(completes[..., None] & (x[..., None] == types)).any(axis=2)  # (n, m, T)
            cum = np.cumsum(allowed, axis=2)
            total = cum[..., -1]
            todo = board[:, idx] < 0  # planted cells are already set
            ok &= ~(todo & (total == 0)).any(axis=1)
            pick = np.argmax(cum > rngmod.uniform_below(u[:, 2 + idx], total)[..., None], axis=2)
            board[:, idx] = np.where(todo, pick, board[:, idx])
        return board[:, :cells].reshape(n, self.rows, self.cols).astype(np.uint8), ok

    def _deal_boards(self, rng: np.ndarray) -> np.ndarray:
        """Fresh boards for every stream of ``rng`` (advanced in place)."""
        out = np.broadcast_to(self._fallback, (len(rng), self.rows, self.cols)).copy()
        pending = np.arange(len(rng))
        for _ in range(FILL_ATTEMPTS):
            if not pending.size:
                break
            sub = rng[pending]
            boards, ok = self._fill(sub)
            rng[pending] = sub
            out[pending[ok]] = boards[ok]
            pending = pending[~ok]
        return out

    def _reshuffle(self, boards: np.ndarray, rng: np.ndarray) -> np.ndarray:
        """Rearrange each board's tiles into a line-free board with a valid swap (or redeal)."""
        m, rows, cols = boards.shape
        tries, cells = RESHUFFLE_TRIES, rows * cols
        order = np.argsort(rngmod.draw_bits(rng, tries * cells).reshape(m, tries, cells), axis=2,
                           kind="stable")
        flat = np.broadcast_to(boards.reshape(m, 1, cells), (m, tries, cells))
        cand = np.take_along_axis(flat, order, axis=2).reshape(m * tries, rows, cols)
        good: np.ndarray = np.logical_not(find_lines(cand)[0].any(axis=(1, 2)))
        good[good] = valid_swap_mask(cand[good]).any(axis=1)  # only line-free ones need the check
        good = good.reshape(m, tries)
        out = cand.reshape(m, tries, rows, cols)[np.arange(m), np.argmax(good, axis=1)]
        redeal = np.flatnonzero(~good.any(axis=1))
        if redeal.size:
            sub = rng[redeal]
            out[redeal] = self._deal_boards(sub)
            rng[redeal] = sub
        return out

    def _cascade(self, boards: np.ndarray, rng: np.ndarray, matched: np.ndarray, windows: np.ndarray,
                 lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Remove lines, drop and refill until no line is left (boards and rng change in place).

        Returns per board (gain, tiles removed, rounds, a line is still there after the cap).
        """
        m, rows, cols = boards.shape
        gain, removed, rounds = (np.zeros(m, dtype=np.int64) for _ in range(3))
        live = np.arange(m)
        height = np.arange(rows)[None, :, None]
        for k in range(1, MAX_CASCADE_ROUNDS + 1):
            count = matched.sum(axis=(1, 2))
            removed[live] += count
            gain[live] += k * (count + windows - lines)
            rounds[live] += 1
            # gravity: a stable sort by "kept" moves removed cells to the top, kept ones keep order
            order = np.argsort(~matched, axis=1, kind="stable")
            sub = np.take_along_axis(boards[live], order, axis=1)
            empty = height < matched.sum(axis=1)[:, None, :]
            streams = rng[live]
            u = rngmod.draw_uniform(streams, rows * cols).reshape(-1, rows, cols)
            rng[live] = streams
            new = rngmod.uniform_below(u, self.num_types).astype(np.uint8)
            sub = np.where(empty, new, sub)
            boards[live] = sub
            matched, windows, lines = find_lines(sub)
            more = matched.any(axis=(1, 2))
            if not more.any():
                live = live[:0]
                break
            live, matched, windows, lines = live[more], matched[more], windows[more], lines[more]
        stuck = np.zeros(m, dtype=bool)
        stuck[live] = True
        return gain, removed, rounds, stuck

    def apply(self, batch: Batch, actions: np.ndarray, active: np.ndarray) -> Outcome:
        board = batch["board"]
        n, rows, cols = board.shape
        r1, c1, r2, c2 = (actions[:, j] for j in range(4))
        inside = ((r1 >= 0) & (r1 < rows) & (c1 >= 0) & (c1 < cols)
                  & (r2 >= 0) & (r2 < rows) & (c2 >= 0) & (c2 < cols))
        adjacent = np.abs(r1 - r2) + np.abs(c1 - c2) == 1
        legal = np.zeros(n, dtype=bool)
        gain, removed, cascades, reshuffles = (np.zeros(n, dtype=np.int64) for _ in range(4))
        cand = np.flatnonzero(active & inside & adjacent)
        if cand.size:
            sub = board[cand]
            j = np.arange(cand.size)
            p1, q1, p2, q2 = r1[cand], c1[cand], r2[cand], c2[cand]
            a, b = sub[j, p1, q1], sub[j, p2, q2]
            sub[j, p1, q1], sub[j, p2, q2] = b, a
            matched, windows, lines = find_lines(sub)
            valid = (a != b) & (matched[j, p1, q1] | matched[j, p2, q2])
            idx = cand[valid]
            if idx.size:
                boards, streams = sub[valid], batch["rng"][idx]
                g, rem, rounds, stuck = self._cascade(boards, streams, matched[valid], windows[valid],
                                                      lines[valid])
                fix = np.flatnonzero(stuck | ~valid_swap_mask(boards).any(axis=1))
                if fix.size:
                    sub_rng = streams[fix]
                    boards[fix] = self._reshuffle(boards[fix], sub_rng)
                    streams[fix] = sub_rng
                    reshuffles[idx[fix]] = 1
                board[idx] = boards
                batch["rng"][idx] = streams
                legal[idx] = True
                gain[idx], removed[idx], cascades[idx] = g, rem, rounds - 1
        info = {"cascades": cascades, "tiles_removed": removed, "reshuffles": reshuffles}
        return Outcome(legal=legal, success=legal.copy(), gain=gain, info=info)

    def legal_mask(self, batch: Batch) -> np.ndarray:
        return valid_swap_mask(batch["board"])

    def is_over(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        n = len(batch["board"])
        return np.zeros(n, dtype=bool), np.full(n, None, dtype=object)

    # -- cold-start reasoning ----------------------------------------------------------------
    def explain(self, state: GameState, board_text: str, pick: Any, score: Scorer) -> Explanation:
        """Every adjacent swap simulated by the env; the valid ones with the lines they make; the one
        whose lines clear the most tiles."""
        game = self
        cells = board_cells(board_text)
        rows, cols = len(cells), len(cells[0])
        swaps = [((r, c), (r, c + 1)) for r in range(rows) for c in range(cols - 1)]
        swaps += [((r, c), (r + 1, c)) for r in range(rows - 1) for c in range(cols)]
        answers = [f"<answer>{game.format_answer(s)}</answer>" for s in swaps]
        _, info = score([state] * len(swaps), answers)
        ok = np.asarray(info["success"], dtype=bool)
        valid = []
        for (a, b), good in zip(swaps, ok):
            if good:
                found = swap_lines(cells, a, b)
                cleared = len({c for line in found for c in line})
                valid.append((a, b, found, cleared))
        lines = [f"I try all {len(swaps)} swaps of neighbouring tiles; a swap counts only if it lines up three or "
                 "more identical tiles in a row or column."]
        if not valid:
            lines.append("None of them makes a line.")
            return Explanation(None, None, "\n".join(lines), len(swaps))
        valid.sort(key=lambda v: -v[3])  # most tiles cleared first (stable: lowest index among ties)
        lines.append(f"{len(valid)} swap(s) make a line:")
        for a, b, found, cleared in valid[:_MAX_LISTED_SWAPS]:
            if found:
                what = "; ".join(f"a line of {len(line)} {cells_name(cells, a, b, line)} at "
                                 f"{', '.join(_cell(c) for c in line)}" for line in found)
                lines.append(f"- {_cell(a)} with {_cell(b)}: {what} ({cleared} tiles cleared).")
            else:
                lines.append(f"- {_cell(a)} with {_cell(b)}: makes a line.")
        if len(valid) > _MAX_LISTED_SWAPS:
            lines.append(f"- ... and {len(valid) - _MAX_LISTED_SWAPS} more.")
        a, b, _, cleared = valid[0]
        if len(valid) > 1 and cleared > valid[1][3]:
            lines.append(f"Swapping {_cell(a)} with {_cell(b)} clears the most tiles ({cleared}).")
        elif len(valid) > 1:
            lines.append(f"Several swaps clear {cleared} tiles; I take the first of them.")
        lines.append(f"So I swap {_cell(a)} and {_cell(b)}.")
        return Explanation((a, b), game.format_answer((a, b)), "\n".join(lines), len(swaps))

    # -- actions -----------------------------------------------------------------------------
    def decode(self, index: np.ndarray) -> np.ndarray:
        i = np.asarray(index, dtype=np.int64).reshape(-1)
        horizontal = self.rows * (self.cols - 1)
        is_h = i < horizontal
        r = np.where(is_h, i // (self.cols - 1), (i - horizontal) // self.cols)
        c = np.where(is_h, i % (self.cols - 1), (i - horizontal) % self.cols)
        return np.stack([r, c, r + ~is_h, c + is_h], axis=1).astype(np.int64)

    def encode(self, actions: np.ndarray) -> np.ndarray:
        a = np.asarray(actions, dtype=np.int64).reshape(-1, 4)
        # a swap is symmetric: put the top-left cell first
        flip = (a[:, 2] < a[:, 0]) | ((a[:, 2] == a[:, 0]) & (a[:, 3] < a[:, 1]))
        a = np.where(flip[:, None], a[:, [2, 3, 0, 1]], a)
        r1, c1, r2, c2 = a.T
        inside = (r1 >= 0) & (r2 < self.rows) & (c1 >= 0) & (c1 < self.cols) & (c2 >= 0) & (c2 < self.cols)
        is_h = (r1 == r2) & (c2 == c1 + 1)
        is_v = (c1 == c2) & (r2 == r1 + 1)
        index = np.where(is_h, r1 * (self.cols - 1) + c1,
                         self.rows * (self.cols - 1) + r1 * self.cols + c1)
        return np.where(inside & (is_h | is_v), index, -1)

    # -- text --------------------------------------------------------------------------------
    def board_text(self, batch: Batch, i: int) -> str:
        names = self.names  # itemgetter of a whole row (cols >= 3) returns a tuple of names
        return "\n".join([" | ".join(itemgetter(*row)(names)) for row in batch["board"][i].tolist()])

    def text_max_length(self) -> int:
        longest = max(len(name) for name in self.names)
        return self.rows * (self.cols * (longest + 3)) + self.rows

    def prompt(self, obs_mode: str) -> str:
        rows, cols = self.rows, self.cols
        seen = observation_sentence(obs_mode, "cells separated by ' | '")
        return (
            f"You are playing a match-3 swapping game on a {rows}x{cols} grid. {seen}\n"
            f"Each cell holds one tile; there are {self.num_types} kinds of tile: "
            f"{', '.join(self.names)}.\n"
            "Rules: choose two cells that touch horizontally or vertically and swap their tiles."
            " The swap only counts if afterwards three or more identical tiles (same colour and same"
            " shape) stand next to each other in one row or one column; otherwise the board stays as"
            " it was and the move fails. Matched tiles disappear, the tiles above fall down and new"
            " random tiles fill the gaps from the top.\n"
            f"Cells are written (row, column), counting from 0 at the top-left; rows go 0 to"
            f" {rows - 1} downwards and columns 0 to {cols - 1} to the right.\n"
            "Answer in three parts. First write the board in <perception></perception>: one line"
            " per row from top to bottom, cells separated by ' | ', each cell as colour and shape,"
            " for example 'Red circle'. Then reason about which swap makes a line in"
            " <think></think>. Finally give only the two cells in <answer></answer>, for example"
            " <answer>(2, 1) (2, 2)</answer>."
        )

    # -- pictures ----------------------------------------------------------------------------
    def sprites(self, cell_px: int) -> np.ndarray:
        return shape_atlas(cell_px, self.types)

    def sprite_ids(self, batch: Batch) -> np.ndarray:
        return batch["board"] + np.uint8(1)  # sprite 0 is the (never shown) empty cell

    def background_color(self) -> tuple[int, int, int]:
        return GRID_COLOR


# -- reasoning helpers (held to the game's rule by the tests) -----------------------------------
Cell = tuple[int, int]
_MAX_LISTED_SWAPS = 8


def swap_lines(cells: Sequence[Sequence[str]], a: Cell, b: Cell) -> list[list[Cell]]:
    """Lines of three or more identical tiles through ``a`` or ``b`` after swapping them.

    ``cells`` are the tile names (:func:`board_cells`). Each line is its cells in order; a swap is
    valid exactly when the two tiles differ and this is not empty (the tests check it against the
    game's rule).
    """
    grid = [list(row) for row in cells]
    rows, cols = len(grid), len(grid[0])
    grid[a[0]][a[1]], grid[b[0]][b[1]] = grid[b[0]][b[1]], grid[a[0]][a[1]]
    found: list[list[Cell]] = []
    for r, c in (a, b):
        name = grid[r][c]
        for dr, dc in ((0, 1), (1, 0)):
            line = [(r, c)]
            for sign in (-1, 1):
                rr, cc = r + sign * dr, c + sign * dc
                while 0 <= rr < rows and 0 <= cc < cols and grid[rr][cc] == name:
                    line.append((rr, cc))
                    rr, cc = rr + sign * dr, cc + sign * dc
            if len(line) >= 3:
                line.sort()
                if line not in found:
                    found.append(line)
    return found


def cells_name(cells: Sequence[Sequence[str]], a: Cell, b: Cell, line: Sequence[Cell]) -> str:
    """The tile name a line is made of (after swapping ``a`` and ``b``)."""
    r, c = line[0]
    if (r, c) == a:
        r, c = b
    elif (r, c) == b:
        r, c = a
    return cells[r][c]
