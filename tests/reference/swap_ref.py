"""Readable reference rules of Swap (match-3) for one board at a time.

A board is a list of rows, each a list of tile types (ints ``0 .. T-1``). Randomness follows the
draw protocol documented in :mod:`vlmgym.games.swap`, with SplitMix64 written out in plain Python
integers (:class:`Stream`), so that from the same stream state this module and the batched game
must produce the same boards. Only the protocol's constants are imported from the game.
"""

from __future__ import annotations

from dataclasses import dataclass

from vlmgym.games import swap as fast

Board = list[list[int]]
Cell = tuple[int, int]

_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15


class Stream:
    """One SplitMix64 stream (Steele, Lea and Flood 2014) as a Python int."""

    def __init__(self, state: int):
        self.state = int(state)

    def words(self, n: int) -> list[int]:
        """``n`` raw 64-bit words; the state moves by ``n``."""
        out = []
        for i in range(1, n + 1):
            z = (self.state + _GAMMA * i) & _MASK
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
            out.append(z ^ (z >> 31))
        self.state = (self.state + _GAMMA * n) & _MASK
        return out

    def uniforms(self, n: int) -> list[float]:
        """``n`` floats in [0, 1) from the top 53 bits of each word."""
        return [(z >> 11) / float(1 << 53) for z in self.words(n)]


def below(u: float, high: int) -> int:
    """A uniform in [0, 1) -> an integer in [0, high)."""
    return min(int(u * high), max(high - 1, 0))


# -- lines and swaps -----------------------------------------------------------------------------
def find_lines(board: Board) -> list[list[Cell]]:
    """Every maximal horizontal or vertical run of three or more equal tiles."""
    rows, cols = len(board), len(board[0])
    lines = []
    for r in range(rows):
        c = 0
        while c < cols:
            end = c
            while end + 1 < cols and board[r][end + 1] == board[r][c]:
                end += 1
            if end - c + 1 >= 3:
                lines.append([(r, k) for k in range(c, end + 1)])
            c = end + 1
    for c in range(cols):
        r = 0
        while r < rows:
            end = r
            while end + 1 < rows and board[end + 1][c] == board[r][c]:
                end += 1
            if end - r + 1 >= 3:
                lines.append([(k, c) for k in range(r, end + 1)])
            r = end + 1
    return lines


def in_line(board: Board, r: int, c: int) -> bool:
    """Whether cell (r, c) is part of a horizontal or vertical line of three."""
    rows, cols, t = len(board), len(board[0]), board[r][c]

    def run(dr: int, dc: int) -> int:
        n, p, q = 0, r + dr, c + dc
        while 0 <= p < rows and 0 <= q < cols and board[p][q] == t:
            n, p, q = n + 1, p + dr, q + dc
        return n

    return run(0, -1) + run(0, 1) >= 2 or run(-1, 0) + run(1, 0) >= 2


def all_swaps(rows: int, cols: int) -> list[tuple[Cell, Cell]]:
    """Adjacent pairs in the index order: horizontal pairs row-major, then vertical pairs."""
    horizontal = [((r, c), (r, c + 1)) for r in range(rows) for c in range(cols - 1)]
    vertical = [((r, c), (r + 1, c)) for r in range(rows - 1) for c in range(cols)]
    return horizontal + vertical


def swapped(board: Board, a: Cell, b: Cell) -> Board:
    new = [row[:] for row in board]
    new[a[0]][a[1]], new[b[0]][b[1]] = board[b[0]][b[1]], board[a[0]][a[1]]
    return new


def is_valid_swap(board: Board, a: Cell, b: Cell) -> bool:
    """The tiles differ and, after swapping, one of the two cells is in a line."""
    if board[a[0]][a[1]] == board[b[0]][b[1]]:
        return False
    new = swapped(board, a, b)
    return in_line(new, *a) or in_line(new, *b)


def valid_swaps(board: Board) -> list[bool]:
    return [is_valid_swap(board, a, b) for a, b in all_swaps(len(board), len(board[0]))]


# -- dealing and reshuffling -----------------------------------------------------------------------
def templates(rows: int, cols: int) -> list[list[Cell]]:
    """Three cells that one swap turns into a line, in the order documented by the game."""
    out = []
    for step in ((0, 1), (1, 0)):  # horizontal lines, then vertical lines
        for r in range(rows):
            for c in range(cols):
                line = [(r + k * step[0], c + k * step[1]) for k in range(3)]
                if not all(p < rows and q < cols for p, q in line):
                    continue
                for missing in range(3):
                    others = [cell for k, cell in enumerate(line) if k != missing]
                    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):  # up, down, left, right
                        src = (line[missing][0] + dr, line[missing][1] + dc)
                        if 0 <= src[0] < rows and 0 <= src[1] < cols and src not in line:
                            out.append([*others, src])
    return out


def forbidden_types(board: list[list[int | None]], r: int, c: int) -> set[int]:
    """Types that would complete a line of three with cells already set around (r, c)."""
    rows, cols = len(board), len(board[0])
    out = set()
    for dr, dc in ((0, 1), (1, 0)):
        for start in (-2, -1, 0):
            window = [(r + (start + k) * dr, c + (start + k) * dc) for k in range(3)]
            if not all(0 <= p < rows and 0 <= q < cols for p, q in window):
                continue
            x, y = (board[p][q] for p, q in window if (p, q) != (r, c))
            if x is not None and x == y:
                out.add(x)
    return out


def fill(stream: Stream, rows: int, cols: int, num_types: int) -> Board | None:
    """One deal attempt: plant a valid swap, then fill row-major avoiding lines (None: stuck)."""
    u = stream.uniforms(2 + rows * cols)
    planted = below(u[0], num_types)
    spots = templates(rows, cols)
    board: list[list[int | None]] = [[None] * cols for _ in range(rows)]
    for r, c in spots[below(u[1], len(spots))]:
        board[r][c] = planted
    for r in range(rows):
        for c in range(cols):
            if board[r][c] is not None:
                continue
            banned = forbidden_types(board, r, c)
            allowed = [t for t in range(num_types) if t not in banned]
            if not allowed:
                return None
            board[r][c] = allowed[below(u[2 + r * cols + c], len(allowed))]
    return board  # type: ignore[return-value]


def chessboard_blocks(rows: int, cols: int) -> Board:
    return [[(r // 2 + c // 2) % 2 for c in range(cols)] for r in range(rows)]


def deal(stream: Stream, rows: int, cols: int, num_types: int) -> Board:
    for _ in range(fast.FILL_ATTEMPTS):
        board = fill(stream, rows, cols, num_types)
        if board is not None:
            return board
    return chessboard_blocks(rows, cols)


def reshuffle(board: Board, stream: Stream, num_types: int) -> tuple[Board, bool]:
    """(new board, whether it kept the tiles): the first playable random rearrangement of the
    tiles, else a fresh deal."""
    rows, cols = len(board), len(board[0])
    tiles = [t for row in board for t in row]
    n = len(tiles)
    words = stream.words(fast.RESHUFFLE_TRIES * n)
    for j in range(fast.RESHUFFLE_TRIES):
        keys = words[j * n : (j + 1) * n]
        order = sorted(range(n), key=lambda i: keys[i])
        new = [[tiles[order[r * cols + c]] for c in range(cols)] for r in range(rows)]
        if not find_lines(new) and any(valid_swaps(new)):
            return new, True
    return deal(stream, rows, cols, num_types), False


# -- a step ---------------------------------------------------------------------------------------
@dataclass
class StepResult:
    board: Board
    legal: bool
    gain: int = 0
    tiles_removed: int = 0
    cascades: int = 0
    reshuffled: bool = False
    kept_tiles: bool = True


def drop_and_refill(board: Board, gone: set[Cell], stream: Stream, num_types: int) -> Board:
    """Remove ``gone``, let tiles fall in each column, fill the top from one block of draws."""
    rows, cols = len(board), len(board[0])
    u = stream.uniforms(rows * cols)
    new = [[0] * cols for _ in range(rows)]
    for c in range(cols):
        kept = [board[r][c] for r in range(rows) if (r, c) not in gone]
        empty = rows - len(kept)
        for r in range(rows):
            new[r][c] = below(u[r * cols + c], num_types) if r < empty else kept[r - empty]
    return new


def step(board: Board, stream: Stream, a: Cell, b: Cell, num_types: int,
         max_rounds: int | None = None) -> StepResult:
    """Apply the swap ``a``-``b``; ``stream`` advances only if the swap is valid."""
    rows, cols = len(board), len(board[0])
    inside = all(0 <= p < rows and 0 <= q < cols for p, q in (a, b))
    adjacent = abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1
    if not (inside and adjacent and is_valid_swap(board, a, b)):
        return StepResult(board=board, legal=False)
    max_rounds = fast.MAX_CASCADE_ROUNDS if max_rounds is None else max_rounds
    res = StepResult(board=swapped(board, a, b), legal=True)
    lines = find_lines(res.board)
    rounds = 0
    while lines and rounds < max_rounds:
        rounds += 1
        gone = {cell for line in lines for cell in line}
        bonus = sum(len(line) - 3 for line in lines)
        res.tiles_removed += len(gone)
        res.gain += rounds * (len(gone) + bonus)
        res.board = drop_and_refill(res.board, gone, stream, num_types)
        lines = find_lines(res.board)
    res.cascades = rounds - 1
    if lines or not any(valid_swaps(res.board)):
        res.reshuffled = True
        res.board, res.kept_tiles = reshuffle(res.board, stream, num_types)
    return res
