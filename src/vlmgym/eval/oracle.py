"""``oracle``: a strong built-in solver for every game, written against the Game protocol.

It reads the exact game state (``Query.state``, privileged) instead of the image, so its numbers
are an upper reference for a model that perceives perfectly:

* 2048-like games (direction moves with a ``move(boards, directions)`` rule): a batched
  expectimax lookahead of two moves with the spawn as a chance node (2 with p=0.9, 4 with p=0.1,
  uniform over the empty cells); leaves are scored by merge gain plus a board heuristic (free
  cells, monotone rows and columns). It never peeks at the random stream.
* every other game (Shisen-Sho, Swap, ...): the legal moves from ``game.legal_mask`` are applied
  to copies of the state with the env's counterfactual ``score`` and the best one is chosen
  (successful first, then the largest score gain). For Shisen-Sho every legal pair succeeds; for
  Swap this is the best swap, cascades included.

Ties are broken by the lowest action index, so the oracle is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vlmgym.eval.policies import Policy, PolicyError, Query, Reply, wrap_answer

__all__ = ["OraclePolicy", "expectimax_2048"]

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


def expectimax_2048(game: Any, boards: np.ndarray) -> np.ndarray:
    """Best direction per board (B,) by a two-move expectimax; -1 where no move is legal.

    ``game`` must provide ``move(boards, directions) -> (new boards, gain, merges)``.
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


class OraclePolicy(Policy):
    """The built-in solver (see the module docstring).

    Args:
        max_candidates: most legal moves simulated per state for score-based games (a seeded
            subset beyond that; the default covers every legal move of the paper's boards).
    """

    name = "oracle"

    def __init__(self, max_candidates: int = 4096):
        if isinstance(max_candidates, bool) or not isinstance(max_candidates, int) or max_candidates < 1:
            raise PolicyError(f"max_candidates must be a positive integer, got {max_candidates!r}")
        self.max_candidates = max_candidates

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "max_candidates": self.max_candidates}

    def __call__(self, queries: Sequence[Query]) -> list[str | Reply]:
        answers: list[str | Reply] = [""] * len(queries)
        groups: dict[int, list[int]] = {}
        for i, q in enumerate(queries):
            if q.state is None or q.env is None:
                raise PolicyError("the oracle needs the game state and env in each query")
            groups.setdefault(id(q.env), []).append(i)
        for idx in groups.values():
            env: Any = queries[idx[0]].env
            states: list[Any] = [queries[i].state for i in idx]
            game = env.game
            if game.action_kind == "direction" and hasattr(game, "move") and "board" in states[0].arrays:
                picks = expectimax_2048(game, np.stack([s.arrays["board"] for s in states]))
                picks = np.where(picks < 0, 0, picks)
            else:
                picks = self._best_by_score(env, states, [queries[i].seed for i in idx])
            for i, pick in zip(idx, picks):
                action = game.from_array(game.decode(np.array([int(pick)]))[0])
                answers[i] = wrap_answer(game.format_answer(action))
        return answers

    def _best_by_score(self, env: Any, states: list[Any], seeds: list[int]) -> np.ndarray:
        game = env.game
        mask = game.legal_mask(env.engine.stack(states))
        owners, candidates = [], []
        for j, row in enumerate(mask):
            legal = np.flatnonzero(row)
            if len(legal) == 0:
                legal = np.arange(min(game.num_actions, self.max_candidates))
            elif len(legal) > self.max_candidates:
                legal = np.sort(np.random.default_rng(seeds[j]).choice(legal, self.max_candidates,
                                                                        replace=False))
            owners.append(np.full(len(legal), j))
            candidates.append(legal)
        owner = np.concatenate(owners)
        cand = np.concatenate(candidates)
        rows = game.decode(cand)
        answers = [wrap_answer(game.format_answer(game.from_array(r))) for r in rows]
        _, info = env.score([states[j] for j in owner], answers)
        value = np.where(info["success"], 1e12, 0.0) + info["gain"].astype(np.float64)
        value = np.where(info["action_status"] == "ok", value, -1e18)
        picks = np.empty(len(states), dtype=np.int64)
        start = 0
        for j, c in enumerate(candidates):
            seg = value[start:start + len(c)]
            picks[j] = c[int(np.argmax(seg))]  # argmax: first (lowest index) among ties
            start += len(c)
        return picks
