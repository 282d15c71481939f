"""2048, batched: the rules, its solver (a two-move expectimax) and its cold-start reasoning."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from vlmgym.core import params
from vlmgym.core import rng as rngmod
from vlmgym.core.actions import DIRECTIONS, DirectionCodec
from vlmgym.core.explain import Explanation
from vlmgym.core.game import Batch, FieldSpec, Game, Outcome, Scorer, observation_sentence, register_game
from vlmgym.core.render import draw_centered_text
from vlmgym.core.state import GameState

__all__ = ["MAX_EXPONENT", "Game2048", "expectimax_2048", "max_exponent", "slide_rows"]

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3
#: Largest tile exponent on any board: 2**57, so that a move's gain (at most 32 merges on 8x8)
#: stays far inside the int64 score.
MAX_EXPONENT = 57


def max_exponent(size: int) -> int:
    """The largest tile exponent of a ``size`` x ``size`` board: ``size**2 + 1`` (the largest
    tile reachable in play, 2**17 on 4x4), at most :data:`MAX_EXPONENT`.

    Two tiles of this exponent do not merge, so no move can make a tile that a snapshot would
    refuse: every position that loads has successors that load.
    """
    return min(size * size + 1, MAX_EXPONENT)
_SPAWN_FOUR_P = 0.1
_END_REASON = np.array([None, "no_moves"], dtype=object)

# Classic 2048 palette by exponent (0 = empty cell); larger tiles use the last colour.
_TILE_COLORS = [
    (205, 193, 180), (238, 228, 218), (237, 224, 200), (242, 177, 121), (245, 149, 99),
    (246, 124, 95), (246, 94, 59), (237, 207, 114), (237, 204, 97), (237, 200, 80),
    (237, 197, 63), (237, 194, 46), (60, 58, 50),
]
_GRID = (187, 173, 160)
_DARK_TEXT, _LIGHT_TEXT = (119, 110, 101), (249, 246, 242)


def _compress_orders(n: int) -> np.ndarray:
    """For each occupancy bit pattern of a row of n cells: the stable order non-empty-first."""
    patterns = np.arange(1 << n)[:, None]
    occupied = (patterns >> np.arange(n)) & 1
    return np.argsort(occupied == 0, axis=1, kind="stable")


_COMPRESS = {n: _compress_orders(n) for n in range(3, 9)}


def slide_rows(rows: np.ndarray, top: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slide and merge rows of exponents toward index 0.

    Args:
        rows: uint8 (N, n) exponents, 0 = empty.
        top: tiles of this exponent or more do not merge (default: :func:`max_exponent` of an
            n x n board).
    Returns:
        (new rows, score gained (N,) int64, merges (N,) int64). A tile merges at most once.
    """
    n = rows.shape[1]
    top = max_exponent(n) if top is None else top
    pattern = (rows != 0).astype(np.int64) @ (1 << np.arange(n))
    a = np.take_along_axis(rows, _COMPRESS[n][pattern], axis=1)  # non-empty first, in order
    gain = np.zeros(len(rows), dtype=np.int64)
    merges = np.zeros(len(rows), dtype=np.int64)
    for j in range(n - 1):
        hit = np.flatnonzero((a[:, j] != 0) & (a[:, j] == a[:, j + 1]) & (a[:, j] < top))
        if hit.size == 0:
            continue
        a[hit, j] += 1
        gain[hit] += np.left_shift(1, a[hit, j].astype(np.int64))
        merges[hit] += 1
        a[hit, j + 1 : n - 1] = a[hit, j + 2 : n]
        a[hit, n - 1] = 0
    return a, gain, merges


def orientation_maps(n: int) -> np.ndarray:
    """(4, n*n) cell permutations: row-major cell k of a board turned so that direction d
    slides toward column 0 is cell ``maps[d, k]`` of the board as it stands."""
    r, c = np.divmod(np.arange(n * n), n)
    maps = np.empty((4, n * n), dtype=np.int64)
    maps[LEFT] = r * n + c
    maps[RIGHT] = r * n + (n - 1 - c)
    maps[UP] = c * n + r
    maps[DOWN] = (n - 1 - c) * n + r
    return maps


def _orient(board: np.ndarray, direction: int) -> np.ndarray:
    """View boards so that ``direction`` becomes a slide toward column 0."""
    if direction == LEFT:
        return board
    if direction == RIGHT:
        return board[:, :, ::-1]
    if direction == UP:
        return board.transpose(0, 2, 1)
    return board.transpose(0, 2, 1)[:, :, ::-1]  # DOWN


@register_game("2048")
class Game2048(Game):
    """2048 on an ``size`` x ``size`` grid.

    ## Description
    Tiles hold powers of two. A move slides every tile as far as possible up, right, down or left;
    two equal tiles that collide merge into their sum (a tile merges at most once per move). After
    every move that changes the board, a 2 (probability 0.9) or a 4 appears in a uniformly random
    empty cell. Two tiles are placed at the start.

    ## Action Space
    ``text`` mode: the model's reply, e.g. ``<answer>2</answer>`` or ``<answer>left</answer>``
    (0 up, 1 right, 2 down, 3 left). ``index`` mode: ``Discrete(4)`` with the same numbering;
    ``info["action_mask"]`` marks the moves that change the board.

    ## Observation Space
    The board picture (``size * cell_px`` square, HUD line with the score by default), the board
    text, or both.

    ## Rewards
    ``binary`` (the paper's training reward): +1 when the move merges at least one pair, -1
    otherwise (unparsable answer, a move that changes nothing, a slide without a merge).
    ``score``: the sum of the merged tile values of the move.

    ## Starting State
    Empty board with two spawned tiles.

    ## Episode End
    Terminates when no move changes the board (``info["end_reason"] == "no_moves"``).
    No time limit by default.

    ## Arguments
    ``size`` (3..8, default 4).

    ## Registered Configurations
    ``VLMGym/2048-v0`` (4x4, the paper's setting).

    ## Board text
    One line per row, cells joined by ``|``, each `` 2 `` / `` 16 `` or `` - `` when empty.
    """

    codec = DirectionCodec(tool_summary="Play one move: slide every tile of the board in one direction.")
    sampler_steps = 100
    #: the paper's evaluation starts 2048 after 100 random moves and sums the merge score
    paper_warmup_steps = 100
    metric = "score_gain"
    hud_default = True

    def __init__(self, size: int = 4):
        self.size = params.integer("2048 size", size, 3, 8)
        self.rows = self.cols = self.size
        self.rules = {"size": self.size}
        self.num_actions = 4
        self.max_exponent = max_exponent(self.size)
        self._maps = orientation_maps(self.size)
        self._cell_text = [" - "] + [f" {1 << e} " for e in range(1, 256)]

    # -- state -------------------------------------------------------------------------------
    @classmethod
    def state_fields(cls, rules: Mapping[str, Any]) -> dict[str, FieldSpec]:
        if set(rules) != {"size"}:
            raise ValueError(f"2048 rules must be {{'size': n}}, got keys {sorted(rules)}")
        n = params.integer("size", rules["size"], 3, 8)
        return {"board": ((n, n), np.dtype(np.uint8))}

    @classmethod
    def check_values(cls, rules: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        limit = max_exponent(int(rules["size"]))
        top = int(arrays["board"].max())
        if top > limit:
            raise ValueError(f"board exponent {top} exceeds the largest tile 2**{limit}")

    # -- rules -------------------------------------------------------------------------------
    def deal(self, batch: Batch) -> None:
        batch["board"][:] = 0
        everyone = np.ones(len(batch["board"]), dtype=bool)
        self._spawn(batch, everyone)
        self._spawn(batch, everyone)

    def _spawn(self, batch: Batch, where: np.ndarray) -> None:
        """Place a 2 (p=0.9) or 4 in a uniformly random empty cell of each board in ``where``."""
        if not where.any():
            return
        board = batch["board"].reshape(len(batch["board"]), -1)
        u = rngmod.draw_uniform(batch["rng"], 2, mask=where)
        empty = board == 0
        count = empty.sum(axis=1)
        ok = where & (count > 0)
        k = rngmod.uniform_below(u[:, 0], count)
        pos = np.argmax(np.cumsum(empty, axis=1) > k[:, None], axis=1)
        value = np.where(u[:, 1] < 1.0 - _SPAWN_FOUR_P, 1, 2).astype(np.uint8)
        rows = np.flatnonzero(ok)
        board[rows, pos[rows]] = value[rows]

    def move(self, board: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Slide ``board`` (B, n, n) in per-board ``direction`` (B,) without spawning.

        Every board is turned (one gather) so its move slides toward column 0, all rows slide
        together, and the result is turned back (one scatter). Directions outside 0..3 leave the
        board unchanged. Returns (new boards, gain, merges).
        """
        b, n = len(board), self.size
        valid = (direction >= 0) & (direction <= 3)
        maps = self._maps[np.where(valid, direction, LEFT)]
        flat = board.reshape(b, n * n)
        turned = np.take_along_axis(flat, maps, axis=1).reshape(b * n, n)
        slid, gain, merges = slide_rows(turned, self.max_exponent)
        new = np.empty_like(flat)
        np.put_along_axis(new, maps, slid.reshape(b, n * n), axis=1)
        new[~valid] = flat[~valid]
        gain = np.where(valid, gain.reshape(b, n).sum(axis=1), 0)
        merges = np.where(valid, merges.reshape(b, n).sum(axis=1), 0)
        return new.reshape(board.shape), gain, merges

    def apply(self, batch: Batch, actions: np.ndarray, active: np.ndarray) -> Outcome:
        board = batch["board"]
        direction = np.where(active, actions[:, 0], -1)
        new, gain, merges = self.move(board, direction)
        legal = active & (new != board).reshape(len(board), -1).any(axis=1)
        board[legal] = new[legal]
        self._spawn(batch, legal)
        gain = np.where(legal, gain, 0)
        merges = np.where(legal, merges, 0)
        return Outcome(legal=legal, success=merges > 0, gain=gain, info={"merges": merges})

    def legal_mask(self, batch: Batch) -> np.ndarray:
        b = batch["board"]
        mask = np.empty((len(b), 4), dtype=bool)
        for d in (UP, RIGHT, DOWN, LEFT):
            o = _orient(b, d)
            lead, follow = o[:, :, :-1], o[:, :, 1:]
            can = ((lead == 0) & (follow != 0)) | ((lead != 0) & (lead == follow) & (lead < self.max_exponent))
            mask[:, d] = can.reshape(len(b), -1).any(axis=1)
        return mask

    def is_over(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        over = np.logical_not(self.legal_mask(batch).any(axis=1))
        return over, _END_REASON[over.astype(np.int8)]

    # -- actions -----------------------------------------------------------------------------
    def decode(self, index: np.ndarray) -> np.ndarray:
        return np.asarray(index, dtype=np.int64).reshape(-1, 1)

    def encode(self, actions: np.ndarray) -> np.ndarray:
        a = np.asarray(actions, dtype=np.int64)[:, 0]
        return np.where((a >= 0) & (a < 4), a, -1)

    # -- solver and reasoning ----------------------------------------------------------------
    def solve(self, batch: Batch) -> np.ndarray:
        """A two-move expectimax with the new tile as a chance node (see :func:`expectimax_2048`)."""
        return expectimax_2048(self, batch["board"])

    def explain(self, state: GameState, board_text: str, pick: Any, score: Scorer) -> Explanation:
        """Every direction with its merges, gain and free cells; the choice among merging moves.

        ``pick`` is the solver's choice. A move succeeds only if it merges, so the pick is taken
        when it merges; otherwise the merging move that gains the most (then: leaves the most free
        cells).
        """
        exps = np.asarray(state.arrays["board"])
        grid = np.where(exps > 0, np.left_shift(1, exps.astype(np.int64)), 0)
        top = 1 << self.max_exponent
        boards = np.repeat(exps[None], 4, axis=0)
        new, gain, merges = self.move(boards, np.arange(4))
        lines = [f"The board has {int((grid > 0).sum())} tiles and {int((grid == 0).sum())} empty cells; "
                 f"the largest tile is {int(grid.max())}.", "Checking every move:"]
        merging: list[int] = []
        for d in range(4):
            name = f"{d} ({DIRECTIONS[d]})"
            legal = bool((new[d] != exps).any())
            free = int((new[d] == 0).sum())
            if not legal:
                lines.append(f"- {name}: nothing can move, so it is not allowed.")
                continue
            merged = [(where, v) for where, line in _lines(grid, d) for v in _line_merges(line, top)]
            parts = [f"{v}+{v}={2 * v} in {where}" for where, v in merged]
            described = sum(2 * v for _, v in merged)
            if int(merges[d]) == 0:
                lines.append(f"- {name}: the tiles slide but nothing merges; {free} empty cells after it.")
                continue
            merging.append(d)
            if len(parts) == int(merges[d]) and described == int(gain[d]):
                what = ", ".join(parts)
            else:  # the helper disagrees with the game's rule: report the game's numbers only
                what = f"{int(merges[d])} pair(s)"
            lines.append(f"- {name}: merges {what}; gains {int(gain[d])}; {free} empty cells after it.")
        if not merging:
            lines.append("No move merges a pair, so no move can succeed here.")
            return Explanation(None, None, "\n".join(lines), 4)
        names = ", ".join(f"{d} ({DIRECTIONS[d]})" for d in merging)
        lines.append(f"Moves that merge: {names}.")
        if pick is not None and pick in merging:
            chosen = int(pick)
            if len(merging) > 1:
                lines.append(f"Looking one move ahead, with the new 2 or 4 in any empty cell, {chosen} "
                             f"({DIRECTIONS[chosen]}) leads to the best position.")
        else:
            chosen = max(merging, key=lambda d: (int(gain[d]), int((new[d] == 0).sum()), -d))
            if len(merging) > 1:
                lines.append(f"{chosen} ({DIRECTIONS[chosen]}) gains the most.")
        lines.append(f"So I move {chosen} ({DIRECTIONS[chosen]}).")
        return Explanation(chosen, self.format_answer(chosen), "\n".join(lines), 4)

    # -- text --------------------------------------------------------------------------------
    def board_text(self, batch: Batch, i: int) -> str:
        cells = self._cell_text
        return "\n".join("|".join([cells[e] for e in row]) for row in batch["board"][i].tolist())

    def text_max_length(self) -> int:
        digits = len(str(1 << self.max_exponent))
        return self.size * (self.size * (digits + 3)) + self.size

    def prompt(self, obs_mode: str) -> str:
        n = self.size
        seen = observation_sentence(obs_mode, "cells separated by '|', '-' for an empty cell")
        return (
            f"You are playing 2048 on a {n}x{n} grid. {seen}\n"
            "Rules: choose one move: 0 = up, 1 = right, 2 = down, 3 = left. Every tile slides as far"
            " as it can in that direction. Two tiles with the same number that run into each other"
            " merge into one tile holding their sum; a tile merges at most once per move. A move"
            " that changes nothing is not allowed. After each move a new 2 or 4 appears in a random"
            " empty cell. A move succeeds when it merges at least one pair of tiles.\n"
            "Answer in three parts. First write the board in <perception></perception>: one line"
            " per row from top to bottom, cells separated by '|', each cell as its number or '-'"
            " when empty. Then reason about the best move in <think></think>. Finally give only"
            " the move number in <answer></answer>, for example <answer>2</answer>."
        )

    # -- pictures ----------------------------------------------------------------------------
    def sprites(self, cell_px: int) -> np.ndarray:
        gap = max(2, cell_px // 14)
        atlas = np.empty((self.max_exponent + 1, cell_px, cell_px, 3), dtype=np.uint8)
        for e in range(self.max_exponent + 1):
            img = Image.new("RGB", (cell_px, cell_px), _GRID)
            draw = ImageDraw.Draw(img)
            color = _TILE_COLORS[min(e, len(_TILE_COLORS) - 1)]
            box = (gap, gap, cell_px - 1 - gap, cell_px - 1 - gap)
            draw.rounded_rectangle(box, radius=max(2, cell_px // 12), fill=color)
            if e:
                text = _DARK_TEXT if e <= 2 else _LIGHT_TEXT
                draw_centered_text(draw, box, str(1 << e), text, max_size=int(cell_px * 0.45))
            atlas[e] = np.asarray(img)
        return atlas

    def sprite_ids(self, batch: Batch) -> np.ndarray:
        return batch["board"]

    def background_color(self) -> tuple[int, int, int]:
        return _GRID

    def label_color(self) -> tuple[int, int, int]:
        return _DARK_TEXT


# -- the solver --------------------------------------------------------------------------------
_SPAWNS = ((1, 0.9), (2, 0.1))  # (exponent, probability): a 2 or a 4
_DEAD = -1e9


def _heuristic(boards: np.ndarray) -> np.ndarray:
    """Board quality for exponent boards (N, n, n): free cells and monotone lines."""
    empty = (boards == 0).reshape(len(boards), -1).sum(axis=1).astype(np.float64)
    b = boards.astype(np.float64)
    mono = np.zeros(len(boards))
    for axis in (1, 2):
        d = np.diff(b, axis=axis)
        inc = np.clip(d, 0, None).sum(axis=(1, 2))
        dec = np.clip(-d, 0, None).sum(axis=(1, 2))
        mono -= np.minimum(inc, dec)  # penalty for lines that go up and down
    return 12.0 * empty + 6.0 * mono


def expectimax_2048(game: Game2048, boards: np.ndarray) -> np.ndarray:
    """Best direction per board (B,) by a two-move expectimax; -1 where no move is legal.

    The spawn is a chance node (2 with p=0.9, 4 with p=0.1, uniform over the empty cells); leaves
    are scored by merge gain plus a board heuristic (free cells, monotone rows and columns). It
    never peeks at the random stream. Ties go to the lowest direction.
    """
    boards = np.asarray(boards)
    b, n = len(boards), boards.shape[1]
    dirs = np.arange(4)
    # first move: (B*4) boards
    first = np.repeat(boards, 4, axis=0)
    d1 = np.tile(dirs, b)
    new1, gain1, _ = game.move(first, d1)
    legal1 = (new1 != first).reshape(len(first), -1).any(axis=1)
    # chance node: every empty cell x spawn value -> (B*4*cells*2) boards
    cells = n * n
    spawned: np.ndarray = np.repeat(new1, cells * len(_SPAWNS), axis=0).reshape(
        len(new1), cells, len(_SPAWNS), cells)
    pos = np.arange(cells)
    empty = new1.reshape(len(new1), cells) == 0                              # (B*4, cells)
    for k, (exponent, _) in enumerate(_SPAWNS):
        spawned[:, pos, k, pos] = np.where(empty, exponent, spawned[:, pos, k, pos])
    spawned = spawned.reshape(-1, n, n)
    # second move: max over 4 directions of gain + heuristic
    second = np.repeat(spawned, 4, axis=0)
    d2 = np.tile(dirs, len(spawned))
    new2, gain2, _ = game.move(second, d2)
    legal2 = (new2 != second).reshape(len(second), -1).any(axis=1)
    value2 = np.where(legal2, gain2 + _heuristic(new2), _DEAD).reshape(len(spawned), 4).max(axis=1)
    value2 = value2.reshape(len(new1), cells, len(_SPAWNS))
    probs = np.array([p for _, p in _SPAWNS])
    count = np.maximum(empty.sum(axis=1), 1)
    expected = ((value2 * probs).sum(axis=2) * empty).sum(axis=1) / count    # uniform over empties
    total = np.where(legal1, gain1 + expected, -np.inf).reshape(b, 4)
    best = np.argmax(total, axis=1)
    return np.where(np.isfinite(total.max(axis=1)), best, -1)


# -- reasoning helpers (held to the game's rules by the tests) ---------------------------------
def _line_merges(values: Sequence[int], top: int | None = None) -> list[int]:
    """Values of the tiles that merge when ``values`` (0 = empty) slide toward index 0 (tiles of
    value ``top`` or more do not merge)."""
    tiles = [v for v in values if v]
    merged, i = [], 0
    while i < len(tiles):
        if i + 1 < len(tiles) and tiles[i] == tiles[i + 1] and (top is None or tiles[i] < top):
            merged.append(tiles[i])
            i += 2
        else:
            i += 1
    return merged


def _lines(grid: np.ndarray, direction: int) -> list[tuple[str, list[int]]]:
    """The lines of a value grid in the order tiles travel for ``direction``, with their names."""
    n = grid.shape[0]
    if direction == UP:  # columns, top first
        return [(f"column {c}", grid[:, c].tolist()) for c in range(n)]
    if direction == DOWN:
        return [(f"column {c}", grid[::-1, c].tolist()) for c in range(n)]
    if direction == LEFT:
        return [(f"row {r}", grid[r, :].tolist()) for r in range(n)]
    return [(f"row {r}", grid[r, ::-1].tolist()) for r in range(n)]  # right
