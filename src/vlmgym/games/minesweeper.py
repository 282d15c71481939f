"""Minesweeper, batched: the rules, a safe first reveal, a constraint solver and its reasoning.

A board is one ``uint8`` array ``board`` per env holding a cell code per cell, three bits:

====  =======================  ==========================================================
bit   meaning                  note
====  =======================  ==========================================================
1     mine                     :data:`MINE`
2     open (revealed)          :data:`OPEN`
4     flag                     :data:`FLAG`: a note of the player's, only on a hidden cell
====  =======================  ==========================================================

so the codes are 0 hidden safe cell, 1 hidden mine, 2 open safe cell, 3 open mine (the game is
lost), 4 flagged safe cell, 5 flagged mine (6 and 7, an open flagged cell, do not exist). A board
without any open cell is a game whose first reveal has not happened yet.

Draw protocol (per env, from its own stream in ``batch["rng"]``)
-----------------------------------------------------------------
A deal draws one block of ``rows * cols`` uniforms ``u`` (one per cell, flat index
``i = row * cols + col``) and places the ``mines`` mines on the first ``mines`` cells in the order
of ``(u[i], i)``: every placement equally likely. The first reveal of a game (a reveal on a board
without an open cell), at cell ``(r, c)``, keeps that cell and its (up to eight) neighbours free
of mines: if ``k > 0`` mines lie there, it draws another block of ``rows * cols`` uniforms ``v``
and moves them to the first ``k`` cells in the order of ``(v[i], i)`` among the cells outside
that zone that hold no mine (the result is uniform over the placements that avoid the zone). So
the first reveal is never a mine and always opens a ``0``, whose flood fill opens a region around
it. Nothing else draws: flags, later reveals and illegal moves leave the stream untouched.
``tests/reference/minesweeper_ref.py`` implements the protocol board by board with plain Python
integers; the tests check both give identical boards from identical streams.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from vlmgym.core import params
from vlmgym.core import rng as rngmod
from vlmgym.core.actions import CellCodec
from vlmgym.core.explain import Explanation
from vlmgym.core.explain import cell_text as _cell
from vlmgym.core.game import Batch, FieldSpec, Game, Outcome, Scorer, observation_sentence, register_game
from vlmgym.core.render import draw_centered_text
from vlmgym.core.state import GameState

__all__ = ["Minesweeper", "Analysis", "analyse", "solver_move", "neighbour_counts", "draw_cell", "MINE", "OPEN",
           "FLAG", "HIDDEN_ID", "FLAG_ID", "EXPLODED_ID", "MIN_SIDE", "MAX_SIDE", "SAFE_ZONE", "ENUMERATION_BUDGET",
           "NUMBER_STYLES", "PALETTES"]

MINE, OPEN, FLAG = 1, 2, 4
#: Sprite ids beyond the numbers 0..8: a hidden cell, a flag, the mine that was hit.
HIDDEN_ID, FLAG_ID, EXPLODED_ID = 9, 10, 11
MIN_SIDE, MAX_SIDE = 4, 30
#: Cells the first reveal keeps free of mines: itself and its neighbours (at most 9).
SAFE_ZONE = 9
#: Most search nodes the solver's exact enumeration of the frontier may visit per board before it
#: falls back to local estimates (see :func:`analyse`).
ENUMERATION_BUDGET = 20_000
#: How a number is drawn: as a digit, or as that many dots (the count must be perceived).
NUMBER_STYLES = ("digits", "dots")
#: Colours of the numbers 1..8: the classic Windows colours, or all black.
PALETTES = ("classic", "plain")

_VERBS = ("reveal", "flag")
_SYMBOLS = "012345678-F*"  # board text of sprite ids 0..11
_SYMBOL_CODES = np.frombuffer(_SYMBOLS.encode(), dtype=np.uint8)
# sprite id of (cell code * 9 + number): open -> the number or the mine hit; hidden -> flag or not
_ID_TABLE = np.array([(EXPLODED_ID if v & MINE else n) if v & OPEN else (FLAG_ID if v & FLAG else HIDDEN_ID)
                      for v in range(8) for n in range(9)], dtype=np.uint8)
_TEXT_MEMO_BYTES = 1 << 24  # about this much memory of board texts (and their keys) before the memo starts over
_END_REASONS = np.array([None, "cleared", "mine"], dtype=object)


def neighbour_counts(mines: np.ndarray) -> np.ndarray:
    """int ``(B, R, C)``: mines among the eight neighbours of every cell of ``mines`` (bool ``(B, R, C)``)."""
    b, rows, cols = mines.shape
    p = np.zeros((b, rows + 2, cols + 2), dtype=np.int8)
    p[:, 1:-1, 1:-1] = mines
    out = np.zeros((b, rows, cols), dtype=np.int8)
    for dr in range(3):
        for dc in range(3):
            if dr != 1 or dc != 1:
                out += p[:, dr:dr + rows, dc:dc + cols]
    return out


def _dilate(mask: np.ndarray) -> np.ndarray:
    """bool ``(B, R, C)``: the cells of ``mask`` and their eight neighbours."""
    b, rows, cols = mask.shape
    p = np.zeros((b, rows + 2, cols + 2), dtype=bool)
    p[:, 1:-1, 1:-1] = mask
    out = np.zeros((b, rows, cols), dtype=bool)
    for dr in range(3):
        for dc in range(3):
            out |= p[:, dr:dr + rows, dc:dc + cols]
    return out


def _resolve_rules(rows: Any, cols: Any, mines: Any) -> dict[str, Any]:
    rows = params.integer("rows", rows, MIN_SIDE, MAX_SIDE)
    cols = params.integer("cols", cols, MIN_SIDE, MAX_SIDE)
    mines = params.integer("mines", mines, 1, rows * cols - SAFE_ZONE)
    return {"rows": rows, "cols": cols, "mines": mines}


@register_game("minesweeper")
class Minesweeper(Game):
    """Minesweeper on a ``rows`` x ``cols`` board with ``mines`` mines.

    ## Description
    Reveal every cell that is not a mine. A revealed cell shows how many of its eight neighbours
    are mines; revealing a ``0`` opens its neighbours too (flood fill). The mines are placed by
    the deal; the first reveal of a game moves any mine on that cell or its neighbours
    elsewhere (see the module docstring), so the first reveal is never a mine and always opens a
    region. Flags are notes: flagging marks a hidden cell, flagging it again removes the mark, and a flag never stops a
    reveal (revealing a flagged cell, or flood fill reaching one, opens it and drops the flag).

    ## Action Space
    ``text`` mode: the model's reply, e.g. ``<answer>reveal (2, 3)</answer>``,
    ``<answer>flag (0, 4)</answer>``, or ``<answer>(2, 3)</answer>`` (a cell alone is a reveal).
    ``index`` mode: ``Discrete(2 * rows * cols)``: ``r * cols + c`` reveals ``(r, c)``,
    ``rows * cols + r * cols + c`` flags it; ``info["action_mask"]`` marks the legal ones.

    ## Observation Space
    The board picture (``rows * cell_px`` by ``cols * cell_px``), the board text, or both.

    ## Rewards
    ``binary`` (the paper's sense): +1 for a reveal that hits no mine; -1 otherwise (unparsable,
    illegal, a mine, and every flag: flags are notes, never a success). ``score``: the number of
    cells a reveal opened (flood fill included); 0 for a mine or a flag.

    ## Starting State
    Every cell hidden; the mines are placed (uniformly), and the first reveal moves any in or next
    to its cell elsewhere.

    ## Episode End
    Terminates when a mine is revealed (``end_reason == "mine"``) or when every safe cell is open
    (``"cleared"``). The registered ids truncate after 100 steps.

    ## Arguments
    ``rows``, ``cols`` (4..30, default 8); ``mines`` (1..rows * cols - 9, default 10);
    ``numbers`` (``"digits"`` or ``"dots"``) and ``palette`` (``"classic"`` or ``"plain"``): how
    the picture draws the numbers (the perception axis; the rules and the text are the same).

    ## Registered Configurations
    ``VLMGym/Minesweeper-v0`` (8x8, 10 mines), ``VLMGym/Minesweeper5x5-v0`` (3 mines),
    ``VLMGym/Minesweeper9x9-v0`` (10 mines, the classic beginner board), ``VLMGym/Minesweeper16x16-v0``
    (40 mines, the classic intermediate board), ``VLMGym/MinesweeperDots-v0`` (8x8, 10 mines, numbers
    as black dots).

    ## Board text
    One line per row, cells separated by ``|``: ``-`` hidden, ``F`` flagged (hidden), ``0``..``8``
    an open cell's number, ``*`` the mine that was revealed.
    """

    codec = CellCodec(verbs=_VERBS, default_verb="reveal", noun="cell", tool_summaries=(
        "Reveal a hidden cell: a mine ends the game, otherwise it shows how many of its eight neighbours are mines.",
        "Flag a hidden cell as a mine (a note for yourself; flag it again to remove the flag)."))
    #: a few random actions after the deal (a reveal opens a region; a mine restarts the game)
    sampler_steps = 4
    paper_warmup_steps = 0
    metric = "successes"

    def __init__(self, rows: int = 8, cols: int = 8, mines: int = 10, numbers: str = "digits",
                 palette: str = "classic"):
        self.rules = _resolve_rules(rows, cols, mines)
        self.rows, self.cols, self.mines = self.rules["rows"], self.rules["cols"], self.rules["mines"]
        # pictures only: a state loads into an env drawing numbers either way
        self.numbers = params.choice("numbers", numbers, NUMBER_STYLES)
        self.palette = params.choice("palette", palette, PALETTES)
        self.cells = self.rows * self.cols
        self.num_actions = 2 * self.cells
        self._texts: dict[bytes, str] = {}

    # -- state -------------------------------------------------------------------------------
    @classmethod
    def state_fields(cls, rules: Mapping[str, Any]) -> dict[str, FieldSpec]:
        canonical = _resolve_rules(rules["rows"], rules["cols"], rules["mines"])
        if canonical != dict(rules):
            raise ValueError(f"rules {dict(rules)} are not in canonical form {canonical}")
        return {"board": ((canonical["rows"], canonical["cols"]), np.dtype(np.uint8))}

    @classmethod
    def check_values(cls, rules: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        board = np.asarray(arrays["board"])
        if int(board.max()) > (MINE | FLAG):
            raise ValueError(f"board holds code {int(board.max())}; cell codes are 0..5 (bits: 1 mine, 2 open, "
                             "4 flag; an open cell carries no flag)")
        mines = int((board & MINE).sum())
        if mines != int(rules["mines"]):
            raise ValueError(f"the board must hold {rules['mines']} mines (rules mines={rules['mines']}), found "
                             f"{mines}")
        if int((board == MINE | OPEN).sum()) > 1:
            raise ValueError("at most one mine can be open (the game ends at the first)")

    # -- rules -------------------------------------------------------------------------------
    def deal(self, batch: Batch) -> None:
        board = batch["board"]
        n = len(board)
        u = rngmod.draw_uniform(batch["rng"], self.cells)
        order = np.argsort(u, axis=1, kind="stable")[:, :self.mines]
        flat = np.zeros((n, self.cells), dtype=np.uint8)
        flat[np.arange(n)[:, None], order] = MINE
        board[:] = flat.reshape(board.shape)

    def _over_codes(self, board: np.ndarray) -> np.ndarray:
        """int ``(B,)``: 0 playing, 1 cleared, 2 mine."""
        n = len(board)
        flat = board.reshape(n, -1)
        mine = (flat & MINE) > 0
        opened = (flat & OPEN) > 0
        lost = (mine & opened).any(axis=1)
        cleared = ~(~mine & ~opened).any(axis=1)
        return np.where(lost, 2, np.where(cleared, 1, 0))

    def clear_zone(self, board: np.ndarray, rng: np.ndarray, r: np.ndarray, c: np.ndarray) -> None:
        """Move the mines of ``(r, c)`` and its neighbours elsewhere on boards ``board`` (``(E, R, C)``)
        whose first reveal is at ``(r, c)``, drawing from ``rng`` (``(E,)``, advanced in place only
        where a mine moves) as the module docstring says."""
        e = len(board)
        rr = np.arange(self.rows)[None, :, None]
        cc = np.arange(self.cols)[None, None, :]
        zone = ((np.abs(rr - r[:, None, None]) <= 1) & (np.abs(cc - c[:, None, None]) <= 1)).reshape(e, -1)
        flat = board.reshape(e, -1)
        mine = (flat & MINE) > 0
        k = (mine & zone).sum(axis=1)
        moving = np.flatnonzero(k > 0)
        if not moving.size:
            return
        sub = rng[moving]
        v = rngmod.draw_uniform(sub, self.cells)
        rng[moving] = sub
        free = ~zone[moving] & ~mine[moving]
        order = np.argsort(np.where(free, v, 2.0), axis=1, kind="stable")
        take = np.arange(self.cells)[None, :] < k[moving][:, None]
        rows_ = np.broadcast_to(moving[:, None], order.shape)
        flat[rows_[take], order[take]] |= MINE
        cleared = zone[moving] & mine[moving]
        sel = flat[moving]
        sel[cleared] &= ~np.uint8(MINE)
        flat[moving] = sel

    def apply(self, batch: Batch, actions: np.ndarray, active: np.ndarray) -> Outcome:
        board = batch["board"]
        n = len(board)
        verb, r, c = actions[:, 0], actions[:, 1], actions[:, 2]
        valid = active & ((verb == 0) | (verb == 1)) & (r >= 0) & (r < self.rows) & (c >= 0) & (c < self.cols)
        rs, cs = np.where(valid, r, 0), np.where(valid, c, 0)
        envs = np.arange(n)
        code = board[envs, rs, cs]
        legal = valid & ((code & OPEN) == 0) & (self._over_codes(board) == 0)
        flag = legal & (verb == 1)
        fi = np.flatnonzero(flag)
        board[fi, rs[fi], cs[fi]] ^= FLAG
        reveal = legal & (verb == 0)
        opened = np.zeros(n, dtype=np.int64)
        hit = np.zeros(n, dtype=bool)
        ri = np.flatnonzero(reveal)
        if ri.size:
            sub = board[ri]
            first = np.flatnonzero(~((sub & OPEN) > 0).reshape(len(ri), -1).any(axis=1))
            if first.size:
                streams = batch["rng"][ri[first]]
                placed = sub[first]
                self.clear_zone(placed, streams, rs[ri[first]], cs[ri[first]])
                sub[first] = placed
                batch["rng"][ri[first]] = streams
            k = np.arange(len(ri))
            here = sub[k, rs[ri], cs[ri]]
            boom = (here & MINE) > 0
            sub[k[boom], rs[ri][boom], cs[ri][boom]] = MINE | OPEN  # the flag, if any, goes
            safe = np.flatnonzero(~boom)
            if safe.size:
                part = sub[safe]
                before = (part & OPEN) > 0
                now = self._flood(part, rs[ri][safe], cs[ri][safe])
                opened[ri[safe]] = (now & ~before).reshape(len(safe), -1).sum(axis=1)
                part[now] = (part[now] & MINE) | OPEN  # open, flags dropped
                sub[safe] = part
            board[ri] = sub
            hit[ri] = boom
        success = reveal & ~hit
        return Outcome(legal=legal, success=success, gain=opened,
                       info={"opened": opened, "hit_mine": hit})

    def _flood(self, board: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        """bool ``(E, R, C)``: the open cells after revealing the safe cell ``(r, c)`` of each board:
        the ones open before, the cell, and what flood fill from the 0s among them reaches."""
        e = len(board)
        mine = (board & MINE) > 0
        zero = (neighbour_counts(mine) == 0) & ~mine
        now = (board & OPEN) > 0
        seed = np.zeros_like(now)
        seed[np.arange(e), r, c] = True
        grown = seed
        while True:  # grow from the newly opened 0s (a 0 open before has opened its neighbours already)
            more = _dilate(grown & zero) & ~mine & ~now & ~seed
            if not more.any():
                break
            seed |= more
            grown = more
        return now | seed

    def legal_mask(self, batch: Batch) -> np.ndarray:
        board = batch["board"]
        n = len(board)
        hidden = (board.reshape(n, -1) & OPEN) == 0
        hidden &= (self._over_codes(board) == 0)[:, None]
        return np.concatenate([hidden, hidden], axis=1)

    def is_over(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        code = self._over_codes(batch["board"])
        return code > 0, _END_REASONS[code]

    # -- actions -----------------------------------------------------------------------------
    def decode(self, index: np.ndarray) -> np.ndarray:
        i = np.asarray(index, dtype=np.int64).reshape(-1)
        cell = i % self.cells
        return np.stack([i // self.cells, cell // self.cols, cell % self.cols], axis=1)

    def encode(self, actions: np.ndarray) -> np.ndarray:
        a = np.asarray(actions, dtype=np.int64)
        v, r, c = a[:, 0], a[:, 1], a[:, 2]
        inside = (v >= 0) & (v < 2) & (r >= 0) & (r < self.rows) & (c >= 0) & (c < self.cols)
        return np.where(inside, v * self.cells + r * self.cols + c, -1)

    # -- solver and reasoning ----------------------------------------------------------------
    def solve(self, batch: Batch) -> np.ndarray:
        """A reveal of a provably safe cell when the open numbers prove one, else of the cell with
        the lowest estimated mine probability (:func:`analyse`); -1 in a finished game. Reads only
        what a player sees (open cells and their numbers, the mine count), never the flags."""
        out = []
        for board in batch["board"]:
            move = solver_move(board, self.mines)
            out.append(-1 if move is None else move[0] * self.cols + move[1])
        return np.array(out, dtype=np.int64)

    def explain(self, state: GameState, board_text: str, pick: Any, score: Scorer) -> Explanation:
        """What the solver deduced: the rule that proves the revealed cell safe, or the mine
        probabilities it estimated when no cell is provably safe; ends with the reveal."""
        board = np.asarray(state.arrays["board"])
        a = analyse(board, int(state.rules["mines"]))
        if a.move is None:
            return Explanation(None, None, "The game is over: there is no cell to reveal.", 0)
        lines = a.lines()
        action = ("reveal", a.move)
        answer = self.format_answer(action)
        lines.append(f"So I reveal {_cell(a.move)}.")
        return Explanation(action, answer, "\n".join(lines), max(1, a.checked))

    # -- text --------------------------------------------------------------------------------
    def _ids(self, board: np.ndarray) -> np.ndarray:
        """Sprite ids ``(B, R, C)``: an open cell's number (0..8) or the mine hit, a hidden cell or a flag."""
        counts = neighbour_counts((board & MINE).astype(bool))
        return _ID_TABLE[board.astype(np.intp) * 9 + counts]

    def board_text(self, batch: Batch, i: int) -> str:
        # A text is a pure function of the board, memoised by its bytes: the engine asks board by
        # board, and a miss computes the texts of the whole batch at once (one step, one pass).
        board = batch["board"]
        key = board[i].tobytes()
        text = self._texts.get(key)
        if text is None:
            if len(self._texts) * 3 * self.cells > _TEXT_MEMO_BYTES:
                self._texts.clear()
            rows, cols = self.rows, self.cols
            ids = self._ids(board)
            out = np.full((len(board), rows, 2 * cols), ord("|"), dtype=np.uint8)
            out[:, :, 0::2] = _SYMBOL_CODES[ids]
            out[:, :, -1] = ord("\n")
            whole = out.tobytes().decode("ascii")
            size = rows * 2 * cols
            for k in range(len(board)):
                self._texts[board[k].tobytes()] = whole[k * size:(k + 1) * size - 1]
            text = self._texts[key]
        return text

    def text_max_length(self) -> int:
        return self.rows * 2 * self.cols

    def prompt(self, obs_mode: str) -> str:
        rows, cols = self.rows, self.cols
        seen = observation_sentence(obs_mode, "cells separated by '|'")
        return (
            f"You are playing Minesweeper on a board of {rows} rows and {cols} columns with {self.mines} "
            f"hidden mines. {seen}\n"
            "Symbols: '-' hidden cell, 'F' hidden cell you flagged, '0' to '8' an open cell showing how many of"
            " its eight neighbours (including diagonal ones) are mines, '*' a mine that was revealed.\n"
            "Rules: reveal a hidden cell. Revealing a mine ends the game; otherwise the cell opens and shows its"
            " number, and a 0 also opens all its neighbours. The first reveal of a game is never a mine. A"
            " reveal succeeds when it does not hit a mine. You may also flag a hidden cell as a note (flag it"
            " again to remove the flag); a flag is never a success. Revealing an open cell is not allowed. The"
            " game is won when every cell that is not a mine is open.\n"
            f"Cells are written (row, column), counting from 0 at the top-left; rows go 0 to {rows - 1}"
            f" downwards and columns 0 to {cols - 1} to the right.\n"
            "Answer in three parts. First write the board in <perception></perception>: one line per row from"
            " top to bottom, cells separated by '|', using the symbols above. Then reason about which cell is"
            " safe in <think></think>. Finally give only the action in <answer></answer>: reveal (row, column)"
            " or flag (row, column), for example <answer>reveal (2, 3)</answer>."
        )

    # -- pictures ----------------------------------------------------------------------------
    def sprites(self, cell_px: int) -> np.ndarray:
        return np.stack([_sprite(k, cell_px, self.numbers, self.palette) for k in range(len(_SYMBOLS))])

    def sprite_ids(self, batch: Batch) -> np.ndarray:
        return self._ids(batch["board"])

    def background_color(self) -> tuple[int, int, int]:
        return (128, 128, 128)


# -- pictures ------------------------------------------------------------------------------------------
_CLASSIC = {1: (0, 0, 230), 2: (0, 128, 0), 3: (220, 0, 0), 4: (0, 0, 128), 5: (128, 0, 0), 6: (0, 128, 128),
            7: (0, 0, 0), 8: (110, 110, 110)}
_OPEN_COLOR, _OPEN_EDGE = (222, 222, 222), (160, 160, 160)
_HIDDEN_COLOR, _LIGHT, _DARK = (188, 188, 188), (250, 250, 250), (110, 110, 110)
_FLAG_RED, _MINE_BLACK, _BOOM_RED = (225, 20, 20), (20, 20, 20), (240, 60, 50)
# dots of 1..8 on a 3 x 3 grid of positions (row, col), like dice
_DOTS = {1: [(1, 1)], 2: [(0, 0), (2, 2)], 3: [(0, 0), (1, 1), (2, 2)], 4: [(0, 0), (0, 2), (2, 0), (2, 2)],
         5: [(0, 0), (0, 2), (1, 1), (2, 0), (2, 2)], 6: [(0, 0), (0, 2), (1, 0), (1, 2), (2, 0), (2, 2)],
         7: [(0, 0), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0), (2, 2)],
         8: [(0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (2, 2)]}


def _sprite(k: int, s: int, numbers: str, palette: str) -> np.ndarray:
    img = Image.new("RGB", (s, s))
    draw_cell(ImageDraw.Draw(img), k, 0, 0, s, numbers, palette)
    return np.asarray(img)


def draw_cell(draw: ImageDraw.ImageDraw, k: int, x: int, y: int, s: int, numbers: str = "digits",
              palette: str = "classic") -> None:
    """Draw sprite ``k`` (0..8 an open cell's number, 9 hidden, 10 flag, 11 the mine hit) with its
    top-left corner at ``(x, y)``, ``s`` pixels wide."""
    w = max(1, s // 14)
    if k in (HIDDEN_ID, FLAG_ID):  # raised: light top-left edge, dark bottom-right edge
        draw.rectangle((x, y, x + s - 1, y + s - 1), fill=_DARK)
        draw.rectangle((x, y, x + s - 1 - w, y + s - 1 - w), fill=_LIGHT)
        draw.rectangle((x + w, y + w, x + s - 1 - w, y + s - 1 - w), fill=_HIDDEN_COLOR)
        if k == FLAG_ID:
            px = x + s * 0.58
            draw.line((px, y + s * 0.2, px, y + s * 0.78), fill=_MINE_BLACK, width=max(1, s // 18))
            draw.polygon([(px, y + s * 0.2), (px, y + s * 0.5), (x + s * 0.25, y + s * 0.35)], fill=_FLAG_RED)
            draw.rectangle((x + s * 0.35, y + s * 0.74, x + s * 0.78, y + s * 0.8), fill=_MINE_BLACK)
        return
    fill = _BOOM_RED if k == EXPLODED_ID else _OPEN_COLOR
    draw.rectangle((x, y, x + s - 1, y + s - 1), fill=fill, outline=_OPEN_EDGE, width=max(1, s // 28))
    if k == EXPLODED_ID:
        cx, cy, rad = x + s / 2, y + s / 2, s * 0.24
        for a in range(4):
            dx, dy = math.cos(a * math.pi / 4) * rad * 1.45, math.sin(a * math.pi / 4) * rad * 1.45
            draw.line((cx - dx, cy - dy, cx + dx, cy + dy), fill=_MINE_BLACK, width=max(1, s // 16))
        draw.ellipse((cx - rad, cy - rad, cx + rad, cy + rad), fill=_MINE_BLACK)
        draw.ellipse((cx - rad * 0.5, cy - rad * 0.55, cx - rad * 0.1, cy - rad * 0.15), fill=_LIGHT)
        return
    if k == 0:
        return
    color = _CLASSIC[k] if palette == "classic" else _MINE_BLACK
    if numbers == "digits":
        draw_centered_text(draw, (x, y, x + s, y + s), str(k), color, max_size=int(s * 0.75), fill_ratio=0.7)
        return
    step, rad = s / 4, max(1.0, s / 9)
    for gr, gc in _DOTS[k]:
        cx, cy = x + step * (gc + 1), y + step * (gr + 1)
        draw.ellipse((cx - rad, cy - rad, cx + rad, cy + rad), fill=color)


# -- the solver ----------------------------------------------------------------------------------------
@dataclass
class Analysis:
    """What :func:`analyse` found on one board: the ``move`` (a cell to reveal, ``None`` in a
    finished game), how it was chosen (``how``: ``"start"``, ``"single"``, ``"subset"``,
    ``"exact"`` or ``"guess"``), the cells proved safe and proved mines, the mine probabilities
    estimated (``probability``: cell -> float, only when guessing) and the reasons given (cell ->
    sentence) for the cells proved safe."""

    move: tuple[int, int] | None
    how: str
    safe: list[tuple[int, int]] = field(default_factory=list)
    mines: list[tuple[int, int]] = field(default_factory=list)
    probability: dict[tuple[int, int], float] = field(default_factory=dict)
    reasons: dict[tuple[int, int], str] = field(default_factory=dict)
    exact: bool = False
    checked: int = 0
    opened: int = 0
    total_mines: int = 0

    def lines(self) -> list[str]:
        """The reasoning in sentences (what :meth:`Minesweeper.explain` writes)."""
        if self.how == "start":
            return ["Nothing is open yet. The first reveal is never a mine and opens the cells around it, so I "
                    "start in the middle of the board."]
        cells = f"{self.opened} cell is" if self.opened == 1 else f"{self.opened} cells are"
        out = [f"{cells} open; {self.total_mines} mines are hidden somewhere. I read the open "
               "numbers as constraints on their hidden neighbours (flags are only notes, so I ignore them)."]
        if self.mines:
            shown = ", ".join(_cell(m) for m in self.mines[:8]) + (" ..." if len(self.mines) > 8 else "")
            out.append(f"Certain mines: {shown}.")
        if self.how in ("single", "subset", "exact"):
            out.append(self.reasons[self.move])  # type: ignore[index]  # a move is set whenever a rule found it
            others = [c for c in self.safe if c != self.move]
            if others:
                shown = ", ".join(_cell(c) for c in others[:8]) + (" ..." if len(others) > 8 else "")
                out.append(f"Also safe: {shown}.")
            return out
        out.append("No hidden cell is certainly safe, so I estimate the chance of a mine in each "
                   + ("(every placement of the mines that fits the numbers, counted exactly):" if self.exact else
                      "(from the numbers around each cell; too many placements to count them all):"))
        ranked = sorted(self.probability.items(), key=lambda kv: (kv[1], kv[0]))
        shown = ", ".join(f"{_cell(c)} {p:.0%}" for c, p in ranked[:5])
        out.append(f"The least likely: {shown}.")
        move = self.move
        assert move is not None
        out.append(f"{_cell(move)} is the safest guess (about {self.probability[move]:.0%}).")
        return out


def _neighbours(r: int, c: int, rows: int, cols: int) -> list[int]:
    return [rr * cols + cc for rr in range(max(0, r - 1), min(rows, r + 2))
            for cc in range(max(0, c - 1), min(cols, c + 2)) if (rr, cc) != (r, c)]


def analyse(board: np.ndarray, mines: int, budget: int | None = None) -> Analysis:
    """The solver on one board, from what a player sees: open cells, their numbers, the mine count.

    1. Nothing open (or no mine placed): reveal the middle cell (the first reveal is safe).
    2. Every open number is a constraint: its hidden neighbours hold exactly (number) mines.
       Constraint propagation to a fixed point: a constraint whose mines are all known makes its
       other cells safe, one with as many mines as unknown cells makes them all mines (*single*),
       and for two constraints whose unknown cells nest, the difference holds the difference of
       their mines (*subset*). The first safe cell in row-major order found so is revealed.
    3. Otherwise the frontier (unknown cells next to a number) is enumerated exactly, component by
       component, weighting each placement by the ways to put the remaining mines on the other
       hidden cells; a cell with probability 0 is safe (*exact*), else the cell with the lowest
       probability is revealed (*guess*; ties: row-major order). Beyond ``budget`` search nodes
       (default :data:`ENUMERATION_BUDGET`) the probabilities are local estimates instead: the
       highest (mines left / unknown cells) of the constraints a cell is in, and the density of
       the mines left elsewhere.
    """
    board = np.asarray(board)
    rows, cols = board.shape
    flat = board.reshape(-1).tolist()
    budget = ENUMERATION_BUDGET if budget is None else int(budget)
    mine_at = [v & MINE > 0 for v in flat]
    is_open = [v & OPEN > 0 for v in flat]
    if any(m and o for m, o in zip(mine_at, is_open)) or all(o or m for m, o in zip(mine_at, is_open)):
        return Analysis(None, "over")
    if not any(is_open):
        return Analysis((rows // 2, (cols - 1) // 2), "start", total_mines=mines)
    cellrc = lambda i: (i // cols, i % cols)  # noqa: E731
    counts = neighbour_counts(np.array(mine_at, dtype=bool).reshape(1, rows, cols))[0].reshape(-1).tolist()
    hidden = [i for i in range(len(flat)) if not is_open[i]]
    constraints: list[tuple[int, frozenset[int], int]] = []  # (source cell, unknown cells, mines)
    for i in range(len(flat)):
        if is_open[i]:
            cells = frozenset(j for j in _neighbours(i // cols, i % cols, rows, cols) if not is_open[j])
            if cells:
                constraints.append((i, cells, counts[i]))
    known_mine: set[int] = set()
    known_safe: dict[int, tuple[str, str]] = {}
    checked = 0
    changed = True
    while changed:
        changed = False
        reduced = []
        for src, cells, n in constraints:
            unknown = cells - known_mine - known_safe.keys()
            left = n - len(cells & known_mine)
            if unknown:
                reduced.append((src, unknown, left, cells))
        for src, unknown, left, cells in reduced:
            checked += 1
            if left == 0:
                found = cells & known_mine
                why = (f"The {counts[src]} at {_cell(cellrc(src))} already touches its mine"
                       f"{'s' if len(found) > 1 else ''} at {', '.join(_cell(cellrc(m)) for m in sorted(found))}"
                       if found else f"The 0 at {_cell(cellrc(src))} has no mine around it")
                for j in sorted(unknown):
                    known_safe[j] = ("single", f"{why}, so its other hidden neighbours are safe, {_cell(cellrc(j))} "
                                               "among them.")
                changed = True
            elif left == len(unknown):
                known_mine |= unknown
                changed = True
        if changed:
            continue
        for a_src, a_unknown, a_left, _ in reduced:  # the subset rule
            for b_src, b_unknown, b_left, _ in reduced:
                if a_src == b_src or not a_unknown < b_unknown:
                    continue
                checked += 1
                rest, extra = b_unknown - a_unknown, b_left - a_left
                if extra == 0:
                    for j in sorted(rest):
                        known_safe[j] = ("subset", (
                            f"The {counts[a_src]} at {_cell(cellrc(a_src))} needs {a_left} more mine"
                            f"{'s' if a_left != 1 else ''} among {', '.join(_cell(cellrc(x)) for x in sorted(a_unknown))}; "
                            f"those cells are all next to the {counts[b_src]} at {_cell(cellrc(b_src))}, which needs "
                            f"{b_left} more, so its other hidden neighbours are safe, {_cell(cellrc(j))} among them."))
                    changed = True
                elif extra == len(rest):
                    known_mine |= rest
                    changed = True
                if changed:
                    break
            if changed:
                break
    out = Analysis(None, "", mines=[cellrc(m) for m in sorted(known_mine)], checked=checked,
                   opened=sum(is_open), total_mines=mines)
    if known_safe:
        out.safe = [cellrc(j) for j in sorted(known_safe)]
        first = min(known_safe)
        out.how, out.move = known_safe[first][0], cellrc(first)
        out.reasons = {cellrc(j): why for j, (_, why) in known_safe.items()}
        return out
    # exact probabilities on the frontier
    unknown_all = [i for i in hidden if i not in known_mine]
    live: list[tuple[list[int], int]] = []
    for _, cells, n in constraints:
        unknown = cells - known_mine
        if unknown:
            live.append((sorted(unknown), n - len(cells & known_mine)))
    on_frontier = {j for cells, _ in live for j in cells}
    frontier = sorted(on_frontier)
    interior = [i for i in unknown_all if i not in on_frontier]
    left_total = mines - len(known_mine)
    probability = _exact(live, frontier, len(interior), left_total, budget)
    out.exact = probability is not None
    if probability is not None and -1 in probability:
        p_in = probability.pop(-1)
        for j in interior:
            probability[j] = p_in
    if probability is None:
        probability = {}
        for group, need in live:
            for j in group:
                probability[j] = max(probability.get(j, 0.0), need / len(group))
        if interior:
            spare = max(0.0, left_total - sum(need for _, need in live) / 2)  # numbers share mines: a rough half
            p_in = min(1.0, spare / len(interior))
            for j in interior:
                probability[j] = p_in
    out.probability = {cellrc(j): p for j, p in probability.items()}
    zero = sorted(j for j, p in probability.items() if p <= 0.0 and out.exact)
    if zero:
        out.how, out.move = "exact", cellrc(zero[0])
        out.safe = [cellrc(j) for j in zero]
        why = ("Counting every placement of the remaining mines that fits all the open numbers, none puts a mine "
               "on {cell}, so it is safe.")
        out.reasons = {cellrc(j): why.format(cell=_cell(cellrc(j))) for j in zero}
        return out
    best = min(probability, key=lambda j: (probability[j], j))
    out.how, out.move = "guess", cellrc(best)
    return out


def _exact(live: list[tuple[list[int], int]], frontier: list[int], interior: int, left: int,
           budget: int) -> dict[int, float] | None:
    """Exact mine probabilities of the frontier cells, and under key -1 that of each of the
    ``interior`` other unknown cells (all alike), or ``None`` beyond ``budget`` search nodes."""
    # components: frontier cells joined by a shared constraint
    parent = {j: j for j in frontier}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for cells, _ in live:
        for j in cells[1:]:
            parent[find(j)] = find(cells[0])
    groups: dict[int, list[int]] = {}
    for j in frontier:
        groups.setdefault(find(j), []).append(j)
    nodes = [0]
    tallies = []  # per component: {k: (placements, {cell: placements with a mine there})}
    for cells in groups.values():
        root = find(cells[0])
        cons = [(c, n) for c, n in live if find(c[0]) == root]
        t = _enumerate(cells, cons, nodes, budget)
        if t is None:
            return None
        tallies.append((cells, t))
    # combine: the number of ways for the other components to hold K mines
    def convolve(parts: list[dict[int, int]]) -> dict[int, int]:
        acc = {0: 1}
        for p in parts:
            nxt: dict[int, int] = {}
            for a, x in acc.items():
                for b, y in p.items():
                    nxt[a + b] = nxt.get(a + b, 0) + x * y
            acc = nxt
        return acc

    dists = [{k: v[0] for k, v in t.items()} for _, t in tallies]
    everything = convolve(dists)
    weight = {k: w * math.comb(interior, left - k) for k, w in everything.items() if 0 <= left - k <= interior}
    total = sum(weight.values())
    if total == 0:
        return None
    out: dict[int, float] = {}
    for idx, (cells, t) in enumerate(tallies):
        others = convolve(dists[:idx] + dists[idx + 1:])
        mine_w = dict.fromkeys(cells, 0)
        for k, (_, per_cell) in t.items():
            ways = sum(w * math.comb(interior, left - k - k2) for k2, w in others.items()
                       if 0 <= left - k - k2 <= interior)
            for j, count in per_cell.items():
                mine_w[j] += count * ways
        for j in cells:
            out[j] = mine_w[j] / total
    if interior:
        expected = sum(w * (left - k) for k, w in weight.items()) / total
        out[-1] = expected / interior
    return out


def _enumerate(cells: list[int], cons: list[tuple[list[int], int]], nodes: list[int],
               budget: int) -> dict[int, tuple[int, dict[int, int]]] | None:
    """Every 0/1 assignment of ``cells`` satisfying ``cons``, tallied by mine count."""
    index = {j: i for i, j in enumerate(cells)}
    cons_of: list[list[int]] = [[] for _ in cells]
    need = []
    free = []
    for ci, (cc, n) in enumerate(cons):
        need.append(n)
        free.append(len(cc))
        for j in cc:
            cons_of[index[j]].append(ci)
    assign = [0] * len(cells)
    out: dict[int, tuple[int, dict[int, int]]] = {}

    def rec(i: int, k: int) -> bool:
        nodes[0] += 1
        if nodes[0] > budget:
            return False
        if i == len(cells):
            count, per = out.get(k, (0, {}))
            for j, a in enumerate(assign):
                if a:
                    per[cells[j]] = per.get(cells[j], 0) + 1
            out[k] = (count + 1, per)
            return True
        for v in (0, 1):
            ok = True
            for ci in cons_of[i]:
                n_after, f_after = need[ci] - v, free[ci] - 1
                if n_after < 0 or n_after > f_after:
                    ok = False
                    break
            if not ok:
                continue
            for ci in cons_of[i]:
                need[ci] -= v
                free[ci] -= 1
            assign[i] = v
            going = rec(i + 1, k + v)
            for ci in cons_of[i]:
                need[ci] += v
                free[ci] += 1
            assign[i] = 0
            if not going:
                return False
        return True

    if not rec(0, 0):
        return None
    return out


def solver_move(board: np.ndarray, mines: int) -> tuple[int, int] | None:
    """The cell the solver reveals on one board (:func:`analyse`), or ``None`` in a finished game."""
    return analyse(board, mines).move
