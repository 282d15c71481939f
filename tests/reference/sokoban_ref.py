"""Readable reference rules of Sokoban for one room at a time.

A room is a list of rows of cell codes (0 wall, 1 floor, 2 target, 3 box on a target, 4 box,
5 player, 6 player on a target, as in :mod:`vlmgym.games.sokoban`). The rules work on the room
taken apart into sets (walls, targets, boxes, the player) and put back together, so each rule is
written once and plainly. Room generation follows the draw protocol documented in the game module
with SplitMix64 in Python integers (:class:`Stream`), so that from the same stream state this
module and the batched game must produce the same rooms. Only the protocol's constants are taken
from the game.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from reference.swap_ref import Stream, below
from vlmgym.games import sokoban as fast

__all__ = ["Stream", "below"]

Room = list[list[int]]
Cell = tuple[int, int]
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # up, right, down, left
SYMBOLS = {0: "#", 1: "_", 2: "O", 3: "V", 4: "X", 5: "P", 6: "S"}


@dataclass
class Parts:
    rows: int
    cols: int
    walls: set[Cell]
    targets: set[Cell]
    boxes: set[Cell]
    player: Cell


def parts(room: Room) -> Parts:
    cells = {(r, c): v for r, row in enumerate(room) for c, v in enumerate(row)}
    (player,) = [rc for rc, v in cells.items() if v in (5, 6)]
    return Parts(len(room), len(room[0]), {rc for rc, v in cells.items() if v == 0},
                 {rc for rc, v in cells.items() if v in (2, 3, 6)}, {rc for rc, v in cells.items() if v in (3, 4)},
                 player)


def assemble(p: Parts) -> Room:
    room = []
    for r in range(p.rows):
        row = []
        for c in range(p.cols):
            cell, target = (r, c), (r, c) in p.targets
            if cell in p.walls:
                row.append(0)
            elif cell in p.boxes:
                row.append(3 if target else 4)
            elif cell == p.player:
                row.append(6 if target else 5)
            else:
                row.append(2 if target else 1)
        room.append(row)
    return room


def step_to(cell: Cell, d: int, times: int = 1) -> Cell:
    return (cell[0] + times * MOVES[d][0], cell[1] + times * MOVES[d][1])


# -- rules -------------------------------------------------------------------------------------------
@dataclass
class MoveResult:
    room: Room
    legal: bool
    pushed: bool
    gain: int


def move(room: Room, d: int, score: int = 0) -> MoveResult:
    """The player moves one cell in direction ``d`` (0..3), pushing a box ahead if it can."""
    p = parts(room)
    if not 0 <= d < 4:
        return MoveResult(room, False, False, 0)
    ahead, beyond = step_to(p.player, d), step_to(p.player, d, 2)
    if ahead in p.walls:
        return MoveResult(room, False, False, 0)
    pushed = ahead in p.boxes
    gain = 0
    if pushed:
        if beyond in p.walls or beyond in p.boxes:
            return MoveResult(room, False, False, 0)
        was_solved = p.boxes <= p.targets
        p.boxes = (p.boxes - {ahead}) | {beyond}
        gain = (beyond in p.targets) - (ahead in p.targets)
        if p.boxes <= p.targets and not was_solved:
            gain += 10
    p.player = ahead
    return MoveResult(assemble(p), True, pushed, max(gain, -score))


def legal_moves(room: Room) -> list[bool]:
    return [move(room, d).legal for d in range(4)]


def corner_box(room: Room) -> bool:
    """Some box not on a target has a wall above or below and a wall left or right."""
    p = parts(room)
    for box in p.boxes - p.targets:
        vertical = step_to(box, 0) in p.walls or step_to(box, 2) in p.walls
        horizontal = step_to(box, 1) in p.walls or step_to(box, 3) in p.walls
        if vertical and horizontal:
            return True
    return False


def end_reason(room: Room, end_on_deadlock: bool = True) -> str | None:
    p = parts(room)
    if p.boxes <= p.targets:
        return "solved"
    if end_on_deadlock and corner_box(room):
        return "deadlock"
    if not any(legal_moves(room)):
        return "no_moves"
    return None


def board_text(room: Room) -> str:
    return "\n".join("".join(SYMBOLS[v] for v in row) for row in room)


def valid_room(room: Room, boxes: int) -> bool:
    """What a loadable position is: codes 0..6, a wall ring, one player, ``boxes`` boxes and targets."""
    rows, cols = len(room), len(room[0])
    flat = [v for row in room for v in row]
    ring = [room[r][c] for r in range(rows) for c in range(cols) if r in (0, rows - 1) or c in (0, cols - 1)]
    return (all(0 <= v <= 6 for v in flat) and all(v == 0 for v in ring) and sum(v in (5, 6) for v in flat) == 1
            and sum(v in (3, 4) for v in flat) == boxes and sum(v in (2, 3, 6) for v in flat) == boxes)


# -- solving ---------------------------------------------------------------------------------------
def shortest_solution(room: Room, limit: int = 10**6) -> list[int] | None:
    """Plain breadth-first search over whole rooms, moves tried up, right, down, left: the first
    solution found is the lexicographically smallest of the shortest ones. ``None``: no solution
    (or more than ``limit`` rooms)."""
    start = tuple(map(tuple, room))
    if end_reason(room, end_on_deadlock=False) == "solved":
        return []
    parent: dict[tuple, tuple[tuple, int] | None] = {start: None}
    queue = deque([start])
    while queue and len(parent) <= limit:
        key = queue.popleft()
        for d in range(4):
            out = move([list(r) for r in key], d)
            if not out.legal:
                continue
            child = tuple(map(tuple, out.room))
            if child in parent:
                continue
            parent[child] = (key, d)
            if parts(out.room).boxes <= parts(out.room).targets:
                moves = []
                while parent[child] is not None:
                    child, d = parent[child]  # type: ignore[misc]
                    moves.append(d)
                return moves[::-1]
            queue.append(child)
    return None


# -- room generation (the draw protocol of vlmgym.games.sokoban) -------------------------------------
def fallback_room(rows: int, cols: int, boxes: int) -> Room:
    room = [[0] * cols for _ in range(rows)]
    for r in range(1, rows - 1):
        for c in range(1, cols - 1):
            room[r][c] = 1
    for k in range(boxes):
        room[1][1 + k] = 2
        room[2][1 + k] = 4
    room[3][1] = 5
    return room


def topology(u: list[float], rows: int, cols: int) -> list[list[bool]]:
    """The floor cells the carving walk of a round makes."""
    steps = int(1.7 * (rows + cols))
    r, c, d = 1 + below(u[0], rows - 2), 1 + below(u[1], cols - 2), below(u[2], 4)
    floor = [[False] * cols for _ in range(rows)]
    for s in range(steps):
        change, direction, pattern = u[3 + 3 * s: 6 + 3 * s]
        if change < fast.P_CHANGE_DIRECTION:
            d = below(direction, 4)
        r = min(max(r + MOVES[d][0], 1), rows - 2)
        c = min(max(c + MOVES[d][1], 1), cols - 2)
        mask = fast.CARVE_PATTERNS[below(pattern, len(fast.CARVE_PATTERNS))]
        for i in range(3):
            for j in range(3):
                if mask[i][j]:
                    floor[r - 1 + i][c - 1 + j] = True
    for rr in range(rows):
        for cc in range(cols):
            if rr in (0, rows - 1) or cc in (0, cols - 1):
                floor[rr][cc] = False
    return floor


def reverse_walk(floor: list[list[bool]], player: Cell, targets: list[Cell], v: list[float]):
    """One reverse walk: its best score and the last position that had it (player, boxes)."""
    box = list(targets)            # box j starts on target j
    swaps, last = 0, None
    best, best_position = 0, None
    for u in v:
        free = [k for k in range(4) if floor[step_to(player, k)[0]][step_to(player, k)[1]]
                and step_to(player, k) not in box]
        if free:
            k = free[below(u, len(free))]
            behind = step_to(player, (k + 2) % 4)
            if behind in box:      # pull it into the cell the player leaves
                j = box.index(behind)
                box[j] = player
                if j != last:
                    swaps, last = swaps + 1, j
            player = step_to(player, k)
        covered = any(b in targets for b in box) or player in targets
        displacement = sum(abs(b[0] - g[0]) + abs(b[1] - g[1]) for b, g in zip(box, targets))
        score = 0 if covered else swaps * displacement
        if score > 0 and score >= best:
            best, best_position = score, (player, list(box))
    return best, best_position


def round_(u: list[float], rows: int, cols: int, boxes: int, depth: int) -> Room | None:
    """One round of room generation from its block of uniforms, or ``None`` when it fails."""
    floor = topology(u, rows, cols)
    start = 3 + 3 * int(1.7 * (rows + cols))
    cells = [(r, c) for r in range(rows) for c in range(cols) if floor[r][c]]
    if len(cells) < boxes + 2:
        return None
    order = sorted(cells, key=lambda rc: (u[start + rc[0] * cols + rc[1]], rc))
    player, targets = order[0], order[1:1 + boxes]
    best, best_position = 0, None
    for w in range(fast.GEN_WALKS):
        v = u[start + rows * cols + w * depth: start + rows * cols + (w + 1) * depth]
        score, position = reverse_walk(floor, player, targets, v)
        if score > best:           # the first walk with the highest score
            best, best_position = score, position
    if best_position is None:
        return None
    walls = {(r, c) for r in range(rows) for c in range(cols) if not floor[r][c]}
    return assemble(Parts(rows, cols, walls, set(targets), set(best_position[1]), best_position[0]))


def deal(stream: Stream, rows: int, cols: int, boxes: int, depth: int) -> Room:
    """A fresh room from ``stream`` (advanced as the game advances it)."""
    block = 3 + 3 * int(1.7 * (rows + cols)) + rows * cols + fast.GEN_WALKS * depth
    for _ in range(fast.GEN_ROUNDS):
        room = round_(stream.uniforms(block), rows, cols, boxes, depth)
        if room is not None:
            return room
    return fallback_room(rows, cols, boxes)
