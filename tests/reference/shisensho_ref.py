"""Reference Shisen-Sho rules: a plain breadth-first path search, one board and one pair at a time.

Deliberately simple and independent of the fast path in ``vlmgym.games.shisensho``: the board is
a list of lists of tile classes (``None`` = empty), padded with a ring of empty cells; a search
state is (cell, direction of travel, turns so far) and a path may only enter empty cells, except
for its final step onto the target.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

Board = Sequence[Sequence[object | None]]
Cell = tuple[int, int]

DIRECTIONS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # up, down, left, right
MAX_TURNS = 2


def padded(board: Board) -> list[list[object | None]]:
    """The board surrounded by a ring of empty cells (paths may run through the ring)."""
    cols = len(board[0])
    ring = [None] * (cols + 2)
    return [list(ring)] + [[None, *row, None] for row in board] + [list(ring)]


def path_exists(board: Board, a: Cell, b: Cell) -> bool:
    """Whether a path of horizontal/vertical moves with at most two turns joins cells a and b,
    passing only through empty cells (and the ring around the board). Contents of a and b are not
    compared here."""
    if a == b:
        return False
    grid = padded(board)
    height, width = len(grid), len(grid[0])
    start = (a[0] + 1, a[1] + 1)
    goal = (b[0] + 1, b[1] + 1)
    queue: deque[tuple[int, int, int, int]] = deque()
    best: dict[tuple[int, int, int], int] = {}
    for d in range(4):
        queue.append((start[0], start[1], d, 0))
        best[(start[0], start[1], d)] = 0
    while queue:
        y, x, d, turns = queue.popleft()
        for nd, (dy, dx) in enumerate(DIRECTIONS):
            nturns = turns + (nd != d)
            if nturns > MAX_TURNS:
                continue
            ny, nx = y + dy, x + dx
            if not (0 <= ny < height and 0 <= nx < width):
                continue
            if (ny, nx) == goal:
                return True
            if grid[ny][nx] is not None:
                continue
            key = (ny, nx, nd)
            if key in best and best[key] <= nturns:
                continue
            best[key] = nturns
            queue.append((ny, nx, nd, nturns))
    return False


def removable(board: Board, a: Cell, b: Cell) -> bool:
    """The full move rule: two different in-board cells holding the same class, joined by a path."""
    rows, cols = len(board), len(board[0])
    for r, c in (a, b):
        if not (0 <= r < rows and 0 <= c < cols):
            return False
    if a == b:
        return False
    ta, tb = board[a[0]][a[1]], board[b[0]][b[1]]
    if ta is None or tb is None or ta != tb:
        return False
    return path_exists(board, a, b)


def legal_pairs(board: Board) -> set[tuple[Cell, Cell]]:
    """Every removable unordered pair ``(a, b)`` with ``a < b``, searched pair by pair."""
    cells = [(r, c) for r in range(len(board)) for c in range(len(board[0])) if board[r][c] is not None]
    out = set()
    for i, a in enumerate(cells):
        for b in cells[i + 1:]:
            if board[a[0]][a[1]] == board[b[0]][b[1]] and path_exists(board, a, b):
                out.add((a, b))
    return out


def end_reason(board: Board) -> str | None:
    """``"cleared"`` (no tiles), ``"no_moves"`` (tiles but no removable pair) or ``None``."""
    if all(v is None for row in board for v in row):
        return "cleared"
    cells = [(r, c) for r in range(len(board)) for c in range(len(board[0])) if board[r][c] is not None]
    for i, a in enumerate(cells):
        for b in cells[i + 1:]:
            if board[a[0]][a[1]] == board[b[0]][b[1]] and path_exists(board, a, b):
                return None
    return "no_moves"


def remove(board: Board, a: Cell, b: Cell) -> list[list[object | None]]:
    """A copy of the board after removing the pair a, b (assumed removable)."""
    out = [list(row) for row in board]
    out[a[0]][a[1]] = None
    out[b[0]][b[1]] = None
    return out
