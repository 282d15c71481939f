"""Readable reference rules of 2048 for one board of actual tile values (0 = empty).

Two tiles of the largest value of the board size (2**(n*n + 1), at most 2**57) do not merge.
"""

from __future__ import annotations

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3


def largest_tile(n: int) -> int:
    return 2 ** min(n * n + 1, 57)


def slide_line(line: list[int]) -> tuple[list[int], int, int]:
    """Slide one line toward index 0: returns (new line, score gained, merges)."""
    tiles = [v for v in line if v]
    out: list[int] = []
    score = merges = 0
    i = 0
    while i < len(tiles):
        if i + 1 < len(tiles) and tiles[i] == tiles[i + 1] and tiles[i] < largest_tile(len(line)):
            out.append(tiles[i] * 2)
            score += tiles[i] * 2
            merges += 1
            i += 2
        else:
            out.append(tiles[i])
            i += 1
    return out + [0] * (len(line) - len(out)), score, merges


def move(board: list[list[int]], direction: int) -> tuple[list[list[int]], int, int]:
    """Apply a move to a board of values: (new board, score gained, merges)."""
    n = len(board)
    new = [[0] * n for _ in range(n)]
    score = merges = 0
    for k in range(n):
        if direction == LEFT:
            cells = [(k, j) for j in range(n)]
        elif direction == RIGHT:
            cells = [(k, n - 1 - j) for j in range(n)]
        elif direction == UP:
            cells = [(j, k) for j in range(n)]
        else:
            cells = [(n - 1 - j, k) for j in range(n)]
        line, s, m = slide_line([board[r][c] for r, c in cells])
        for (r, c), v in zip(cells, line):
            new[r][c] = v
        score += s
        merges += m
    return new, score, merges


def legal_moves(board: list[list[int]]) -> list[int]:
    return [d for d in (UP, RIGHT, DOWN, LEFT) if move(board, d)[0] != board]


def is_over(board: list[list[int]]) -> bool:
    return not legal_moves(board)
