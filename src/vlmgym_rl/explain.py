"""Reasoning text for the oracle cold-start teacher, written from what the solver checked.

Each explainer looks at one state the way a solver does -- every 2048 move and the merges it makes,
every Shisen-Sho pair of matching tiles and whether a path with at most two turns joins them,
every Swap and the lines it makes -- and returns the chosen move with a ``<think>`` text that
reports exactly those checks. Legality and success always come from the environment itself
(``VLMGymVectorEnv.score`` on copies of the state, or the game's own ``move`` rule for 2048); the
small helpers here only add what the game API does not report (which tiles merge, the path a pair
is joined by, which cells a swap lines up), and the tests hold them to the game's rules.

Everything the text states is visible on the board: the chosen Swap is the one whose own lines
clear the most tiles (cascades depend on hidden refills), and the 2048 lookahead averages over the
new tile instead of peeking at the random stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Explanation", "board_cells", "explain", "pair_path", "swap_lines"]

_DIRECTIONS = ("up", "right", "down", "left")
_MAX_LISTED_PAIRS = 8
_MAX_LISTED_BLOCKED = 3
_MAX_LISTED_SWAPS = 8

Cell = tuple[int, int]


@dataclass(frozen=True)
class Explanation:
    """A chosen move and the reasoning behind it.

    ``answer`` is the text inside ``<answer>`` (the game's canonical format), ``think`` the text
    inside ``<think>``; ``action`` is ``None`` when the state has no rewarded move (the state is
    then skipped, and ``think`` says why).
    """

    action: Any
    answer: str | None
    think: str
    checked: int  # moves the solver simulated


def board_cells(board_text: str) -> list[list[str]]:
    """The cells of a board text (one line per row, cells separated by ``|``), stripped;
    ``"-"`` is an empty cell."""
    return [[c.strip() for c in line.split("|")] for line in board_text.split("\n")]


def _cell(c: Cell) -> str:
    return f"({c[0]}, {c[1]})"


# -- 2048 -----------------------------------------------------------------------------------------
def _line_merges(values: Sequence[int]) -> list[int]:
    """Values of the tiles that merge when ``values`` (0 = empty) slide toward index 0."""
    tiles = [v for v in values if v]
    merged, i = [], 0
    while i < len(tiles):
        if i + 1 < len(tiles) and tiles[i] == tiles[i + 1]:
            merged.append(tiles[i])
            i += 2
        else:
            i += 1
    return merged


def _lines(grid: np.ndarray, direction: int) -> list[tuple[str, list[int]]]:
    """The lines of a value grid in the order tiles travel for ``direction``, with their names."""
    n = grid.shape[0]
    if direction == 0:  # up: columns, top first
        return [(f"column {c}", grid[:, c].tolist()) for c in range(n)]
    if direction == 2:  # down
        return [(f"column {c}", grid[::-1, c].tolist()) for c in range(n)]
    if direction == 3:  # left
        return [(f"row {r}", grid[r, :].tolist()) for r in range(n)]
    return [(f"row {r}", grid[r, ::-1].tolist()) for r in range(n)]  # right


def explain_2048(env: Any, state: Any, board_text: str, oracle_pick: int | None) -> Explanation:
    """Every direction with its merges, gain and free cells; the choice among merging moves.

    ``oracle_pick`` is the built-in solver's choice (a two-move expectimax with the new tile as a
    chance node). A move succeeds only if it merges, so the solver's pick is taken when it merges;
    otherwise the merging move that gains the most (then: leaves the most free cells).
    """
    game = env.game
    exps = np.asarray(state.arrays["board"])
    grid = np.where(exps > 0, np.left_shift(1, exps.astype(np.int64)), 0)
    boards = np.repeat(exps[None], 4, axis=0)
    new, gain, merges = game.move(boards, np.arange(4))
    lines = [f"The board has {int((grid > 0).sum())} tiles and {int((grid == 0).sum())} empty cells; "
             f"the largest tile is {int(grid.max())}.", "Checking every move:"]
    merging: list[int] = []
    for d in range(4):
        name = f"{d} ({_DIRECTIONS[d]})"
        legal = bool((new[d] != exps).any())
        free = int((new[d] == 0).sum())
        if not legal:
            lines.append(f"- {name}: nothing can move, so it is not allowed.")
            continue
        merged = [(where, v) for where, line in _lines(grid, d) for v in _line_merges(line)]
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
    names = ", ".join(f"{d} ({_DIRECTIONS[d]})" for d in merging)
    lines.append(f"Moves that merge: {names}.")
    if oracle_pick is not None and oracle_pick in merging:
        pick = int(oracle_pick)
        if len(merging) > 1:
            lines.append(f"Looking one move ahead, with the new 2 or 4 in any empty cell, {pick} "
                         f"({_DIRECTIONS[pick]}) leads to the best position.")
    else:
        pick = max(merging, key=lambda d: (int(gain[d]), int((new[d] == 0).sum()), -d))
        if len(merging) > 1:
            lines.append(f"{pick} ({_DIRECTIONS[pick]}) gains the most.")
    lines.append(f"So I move {pick} ({_DIRECTIONS[pick]}).")
    return Explanation(pick, game.format_answer(pick), "\n".join(lines), 4)


# -- Shisen-Sho ----------------------------------------------------------------------------------------
def _walk(p: Cell, q: Cell) -> list[Cell]:
    """Cells after ``p`` up to and including ``q`` along a horizontal or vertical segment."""
    (r1, c1), (r2, c2) = p, q
    if (r1, c1) == (r2, c2):
        return []
    dr, dc = int(np.sign(r2 - r1)), int(np.sign(c2 - c1))
    out, r, c = [], r1, c1
    while (r, c) != (r2, c2):
        r, c = r + dr, c + dc
        out.append((r, c))
    return out


def _turns(points: Sequence[Cell]) -> int | None:
    """Direction changes along a polyline (zero-length segments skipped); ``None`` if it reverses."""
    dirs = []
    for p, q in zip(points, points[1:]):
        if p != q:
            dirs.append((int(np.sign(q[0] - p[0])), int(np.sign(q[1] - p[1]))))
    turns = 0
    for u, v in zip(dirs, dirs[1:]):
        if u == v:
            continue
        if u == (-v[0], -v[1]):
            return None
        turns += 1
    return turns


def _corners(points: Sequence[Cell]) -> list[Cell]:
    """The end points and the points where a polyline turns."""
    pts = [points[0]] + [q for p, q in zip(points, points[1:]) if q != p]

    def step(p: Cell, q: Cell) -> tuple[int, int]:
        return int(np.sign(q[0] - p[0])), int(np.sign(q[1] - p[1]))

    inner = [pts[i] for i in range(1, len(pts) - 1) if step(pts[i - 1], pts[i]) != step(pts[i], pts[i + 1])]
    return [pts[0], *inner, pts[-1]]


def pair_path(filled: np.ndarray, a: Cell, b: Cell) -> list[Cell] | None:
    """A path with at most two turns joining cells ``a`` and ``b`` through empty cells, or ``None``.

    ``filled`` (rows, cols) is True where a tile sits; the path may use the empty ring around the
    board (row -1 or ``rows``, column -1 or ``cols``). Returns the path's corner points from ``a``
    to ``b`` (fewest turns, then shortest), in board coordinates.

    Every such path is horizontal-vertical-horizontal or vertical-horizontal-vertical with
    segments of any length (zero included), so trying every middle column and every middle row of
    the padded board finds one if one exists. The tests check this against the game's own rule.
    """
    rows, cols = filled.shape
    pad = np.zeros((rows + 2, cols + 2), dtype=bool)
    pad[1:-1, 1:-1] = filled
    pa, pb = (a[0] + 1, a[1] + 1), (b[0] + 1, b[1] + 1)
    best: tuple[int, int, list[Cell]] | None = None
    candidates = [[pa, (pa[0], k), (pb[0], k), pb] for k in range(cols + 2)]
    candidates += [[pa, (k, pa[1]), (k, pb[1]), pb] for k in range(rows + 2)]
    for pts in candidates:
        turns = _turns(pts)
        if turns is None or turns > 2:
            continue
        cells = [c for p, q in zip(pts, pts[1:]) for c in _walk(p, q)]
        if not cells or cells[-1] != pb or any(pad[c] for c in cells[:-1]) or pb in cells[:-1]:
            continue
        corners = _corners(pts)
        key = (turns, len(cells))
        if best is None or key < best[:2]:
            best = (turns, len(cells), [(r - 1, c - 1) for r, c in corners])
    return None if best is None else best[2]


def _path_text(path: list[Cell], rows: int, cols: int) -> str:
    turns = len(path) - 2
    outside = [p for p in path if not (0 <= p[0] < rows and 0 <= p[1] < cols)]
    route = " -> ".join(_cell(p) for p in path)
    kind = {0: "a straight line", 1: "one turn", 2: "two turns"}[turns]
    return f"{route} ({kind}{', around the outside of the board' if outside else ''})"


def explain_shisensho(env: Any, state: Any, board_text: str, oracle_pick: Any) -> Explanation:
    """Every pair of matching tiles, which of them a path joins (scored by the env), the chosen one."""
    game = env.game
    cells = board_cells(board_text)
    rows, cols = len(cells), len(cells[0])
    filled = np.array([[c != "-" for c in row] for row in cells])
    by_kind: dict[str, list[Cell]] = {}
    for r in range(rows):
        for c in range(cols):
            if filled[r, c]:
                by_kind.setdefault(cells[r][c], []).append((r, c))
    pairs = [(kind, p[i], p[j]) for kind, p in by_kind.items() for i in range(len(p)) for j in range(i + 1, len(p))]
    if not pairs:
        return Explanation(None, None, "No two tiles match, so no pair can be removed.", 0)
    answers = [f"<answer>{game.format_answer((a, b))}</answer>" for _, a, b in pairs]
    _, info = env.score([state] * len(pairs), answers)
    ok = np.asarray(info["success"], dtype=bool)
    removable = [p for p, good in zip(pairs, ok) if good]
    blocked = [p for p, good in zip(pairs, ok) if not good]
    lines = [f"{int(filled.sum())} tiles on the board. Matching tiles have the same kind; a pair can be removed "
             "when a path with at most two turns joins them through empty cells or around the board.",
             f"Checking the {len(pairs)} pairs of matching tiles:"]
    chosen = None
    if oracle_pick is not None:
        (r1, c1), (r2, c2) = oracle_pick
        a, b = sorted([(r1, c1), (r2, c2)])
        chosen = next((p for p in removable if (p[1], p[2]) == (a, b)), None)
    if chosen is None and removable:
        chosen = removable[0]
    if chosen is not None:  # listed first
        removable = [chosen] + [p for p in removable if p != chosen]
    for kind, a, b in removable[:_MAX_LISTED_PAIRS]:
        path = pair_path(filled, a, b)
        how = f"joined by {_path_text(path, rows, cols)}" if path else "can be joined"
        lines.append(f"- {kind} at {_cell(a)} and {_cell(b)}: {how}.")
    if len(removable) > _MAX_LISTED_PAIRS:
        lines.append(f"- ... and {len(removable) - _MAX_LISTED_PAIRS} more pairs that can be joined.")
    for kind, a, b in blocked[:_MAX_LISTED_BLOCKED]:
        lines.append(f"- {kind} at {_cell(a)} and {_cell(b)}: blocked, no path with at most two turns.")
    if len(blocked) > _MAX_LISTED_BLOCKED:
        lines.append(f"- ... {len(blocked) - _MAX_LISTED_BLOCKED} more pairs are blocked.")
    if chosen is None:
        lines.append("No pair can be removed.")
        return Explanation(None, None, "\n".join(lines), len(pairs))
    kind, a, b = chosen
    lines.append(f"{len(removable)} of the {len(pairs)} pairs can be removed. I remove the {kind} tiles at "
                 f"{_cell(a)} and {_cell(b)}.")
    return Explanation((a, b), game.format_answer((a, b)), "\n".join(lines), len(pairs))


# -- Swap ---------------------------------------------------------------------------------------------
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


def explain_swap(env: Any, state: Any, board_text: str, oracle_pick: Any) -> Explanation:
    """Every adjacent swap simulated by the env; the valid ones with the lines they make; the one
    whose lines clear the most tiles."""
    game = env.game
    cells = board_cells(board_text)
    rows, cols = len(cells), len(cells[0])
    swaps = [((r, c), (r, c + 1)) for r in range(rows) for c in range(cols - 1)]
    swaps += [((r, c), (r + 1, c)) for r in range(rows - 1) for c in range(cols)]
    answers = [f"<answer>{game.format_answer(s)}</answer>" for s in swaps]
    _, info = env.score([state] * len(swaps), answers)
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


def cells_name(cells: Sequence[Sequence[str]], a: Cell, b: Cell, line: Sequence[Cell]) -> str:
    """The tile name a line is made of (after swapping ``a`` and ``b``)."""
    r, c = line[0]
    if (r, c) == a:
        r, c = b
    elif (r, c) == b:
        r, c = a
    return cells[r][c]


# -- any other game --------------------------------------------------------------------------------------
def explain_generic(env: Any, state: Any, board_text: str, oracle_pick: Any) -> Explanation:
    """Games without a dedicated explainer: the solver's pick, checked by the env."""
    game = env.game
    if oracle_pick is None:
        return Explanation(None, None, "The solver found no move.", 0)
    answer = game.format_answer(oracle_pick)
    _, info = env.score([state], [f"<answer>{answer}</answer>"])
    if not bool(info["success"][0]):
        return Explanation(None, None, "No legal move of this position succeeds.", 1)
    return Explanation(oracle_pick, answer, f"Among the legal moves, {answer} succeeds (it gains "
                       f"{int(info['gain'][0])}). So I play {answer}.", 1)


_EXPLAINERS = {"2048": explain_2048, "shisensho": explain_shisensho, "swap": explain_swap}


def explain(env: Any, state: Any, board_text: str, oracle_pick: Any) -> Explanation:
    """The explanation for one state of ``env``'s game (a vlmgym vector env used for scoring)."""
    fn = _EXPLAINERS.get(env.game.name, explain_generic)
    return fn(env, state, board_text, oracle_pick)
