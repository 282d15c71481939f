"""Readable reference rules of Minesweeper for one board at a time.

A board is a list of rows of cell codes (bits: 1 mine, 2 open, 4 flag, as in
:mod:`vlmgym.games.minesweeper`). The rules work on the board taken apart into sets (mines, open
cells, flags) and put back together, so each rule is written once and plainly: flood fill is a
breadth-first search, the deal and the first reveal place the mines with SplitMix64 in Python integers
(:class:`Stream`) following the draw protocol of the game module, so that from the same stream
state this module and the batched game must produce the same boards. The solver's claims are
checked here by brute force over every placement of the mines that fits what a player sees.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

from reference.swap_ref import Stream, below

__all__ = ["Stream", "below"]

Board = list[list[int]]
Cell = tuple[int, int]
MINE, OPEN, FLAG = 1, 2, 4


@dataclass
class Parts:
    rows: int
    cols: int
    mines: set[Cell]
    opened: set[Cell]
    flags: set[Cell]


def parts(board: Board) -> Parts:
    cells = {(r, c): v for r, row in enumerate(board) for c, v in enumerate(row)}
    return Parts(len(board), len(board[0]), {rc for rc, v in cells.items() if v & MINE},
                 {rc for rc, v in cells.items() if v & OPEN}, {rc for rc, v in cells.items() if v & FLAG})


def assemble(p: Parts) -> Board:
    return [[(MINE if (r, c) in p.mines else 0) | (OPEN if (r, c) in p.opened else 0)
             | (FLAG if (r, c) in p.flags else 0) for c in range(p.cols)] for r in range(p.rows)]


def neighbours(cell: Cell, rows: int, cols: int) -> list[Cell]:
    r, c = cell
    return [(r + dr, c + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)
            if (dr, dc) != (0, 0) and 0 <= r + dr < rows and 0 <= c + dc < cols]


def number(p: Parts, cell: Cell) -> int:
    return sum(n in p.mines for n in neighbours(cell, p.rows, p.cols))


# -- rules -------------------------------------------------------------------------------------------
def end_reason(board: Board) -> str | None:
    p = parts(board)
    if p.mines & p.opened:
        return "mine"
    safe = {(r, c) for r in range(p.rows) for c in range(p.cols)} - p.mines
    if safe <= p.opened:
        return "cleared"
    return None


def legal_actions(board: Board) -> list[bool]:
    """Reveals of every cell (row-major), then flags of every cell: a hidden cell of a game that
    has not ended."""
    p = parts(board)
    playing = end_reason(board) is None
    one = [playing and (r, c) not in p.opened for r in range(p.rows) for c in range(p.cols)]
    return one + one


def deal(stream: Stream, rows: int, cols: int, mines: int) -> Board:
    """The draw protocol's deal: one uniform per cell; mines on the first ``mines`` cells in the
    order of (uniform, flat index); every cell hidden."""
    u = stream.uniforms(rows * cols)
    order = sorted(range(rows * cols), key=lambda i: (u[i], i))
    return assemble(Parts(rows, cols, {divmod(i, cols) for i in order[:mines]}, set(), set()))


def clear_zone(stream: Stream, p: Parts, first: Cell) -> None:
    """The first reveal at ``first``: the mines on it and its neighbours move (one uniform per cell,
    drawn only if any must move) to the first free cells outside that zone in the order of
    (uniform, flat index)."""
    zone = {first, *neighbours(first, p.rows, p.cols)}
    moving = p.mines & zone
    if not moving:
        return
    v = stream.uniforms(p.rows * p.cols)
    free = [i for i in range(p.rows * p.cols) if divmod(i, p.cols) not in zone | p.mines]
    free.sort(key=lambda i: (v[i], i))
    p.mines = (p.mines - moving) | {divmod(i, p.cols) for i in free[:len(moving)]}


@dataclass
class StepResult:
    board: Board
    legal: bool
    success: bool
    opened: int
    hit_mine: bool


def step(board: Board, verb: int, r: int, c: int, stream: Stream) -> StepResult:
    """One action: ``verb`` 0 reveals ``(r, c)``, 1 flags it (or removes its flag)."""
    p = parts(board)
    same = StepResult([row[:] for row in board], False, False, 0, False)
    if verb not in (0, 1) or not (0 <= r < p.rows and 0 <= c < p.cols):
        return same
    if (r, c) in p.opened or end_reason(board) is not None:
        return same
    cell = (r, c)
    if verb == 1:
        p.flags ^= {cell}
        return StepResult(assemble(p), True, False, 0, False)
    if not p.opened:  # the first reveal of the game
        clear_zone(stream, p, cell)
    if cell in p.mines:
        p.opened.add(cell)
        p.flags.discard(cell)
        return StepResult(assemble(p), True, False, 0, True)
    # flood fill: open the cell; from every newly opened 0, open its neighbours
    new = {cell}
    queue = deque([cell])
    while queue:
        x = queue.popleft()
        if number(p, x) != 0:
            continue
        for y in neighbours(x, p.rows, p.cols):
            if y not in p.opened and y not in new and y not in p.mines:
                new.add(y)
                queue.append(y)
    p.opened |= new
    p.flags -= new
    return StepResult(assemble(p), True, True, len(new), False)


def board_text(board: Board) -> str:
    p = parts(board)
    lines = []
    for r in range(p.rows):
        cells = []
        for c in range(p.cols):
            if (r, c) in p.opened:
                cells.append("*" if (r, c) in p.mines else str(number(p, (r, c))))
            else:
                cells.append("F" if (r, c) in p.flags else "-")
        lines.append("|".join(cells))
    return "\n".join(lines)


def valid_board(board: Board, mines: int) -> bool:
    """What a snapshot may hold: codes 0..5, exactly ``mines`` mines, at most one of them open."""
    flat = [v for row in board for v in row]
    if any(not 0 <= v <= 5 for v in flat):
        return False
    p = parts(board)
    return len(p.mines) == mines and len(p.mines & p.opened) <= 1


# -- brute force over what a player sees ------------------------------------------------------------
def consistent_placements(board: Board, mines: int) -> list[set[Cell]]:
    """Every set of ``mines`` hidden cells that gives every open cell its number (small boards)."""
    p = parts(board)
    hidden = [(r, c) for r in range(p.rows) for c in range(p.cols) if (r, c) not in p.opened]
    shown = {cell: number(p, cell) for cell in p.opened}
    out = []
    for combo in itertools.combinations(hidden, mines):
        s = set(combo)
        if all(sum(n in s for n in neighbours(cell, p.rows, p.cols)) == k for cell, k in shown.items()):
            out.append(s)
    return out


def mine_probabilities(board: Board, mines: int) -> dict[Cell, float]:
    """The exact chance of a mine on each hidden cell, every consistent placement equally likely."""
    placements = consistent_placements(board, mines)
    p = parts(board)
    hidden = [(r, c) for r in range(p.rows) for c in range(p.cols) if (r, c) not in p.opened]
    return {cell: sum(cell in s for s in placements) / len(placements) for cell in hidden}
