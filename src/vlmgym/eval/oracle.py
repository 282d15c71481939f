"""``oracle``: a strong built-in solver for every game, written against the Game protocol.

It reads the exact game state (``Query.state``, privileged) instead of the image, so its numbers
are an upper reference for a model that perceives perfectly:

* a game with its own solver (``Game.solve``, e.g. 2048's two-move expectimax with the spawn as a
  chance node) plays the solver's moves;
* every other game (and any state the solver finds no move for): the legal moves from the env's
  ``legal_masks`` are applied to copies of the state with the env's counterfactual ``score`` and
  the best one is chosen (successful first, then the largest score gain). For Shisen-Sho every
  legal pair succeeds; for Swap this is the best swap, cascades included.

Ties are broken by the lowest action index, so the oracle is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vlmgym.eval.interface import Policy, PolicyError, Query, Reply, wrap_answer

__all__ = ["OraclePolicy"]


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
            picks = env.solve(states)
            if picks is None:
                picks = self._best_by_score(env, states, [queries[i].seed for i in idx])
            else:
                picks = np.asarray(picks, dtype=np.int64).copy()
                stuck = np.flatnonzero(picks < 0)  # the solver found no move: take the best by score
                if stuck.size:
                    picks[stuck] = self._best_by_score(env, [states[j] for j in stuck],
                                                       [queries[idx[j]].seed for j in stuck])
            for i, answer in zip(idx, env.game.index_answers(picks)):
                answers[i] = wrap_answer(answer)
        return answers

    def _best_by_score(self, env: Any, states: list[Any], seeds: list[int]) -> np.ndarray:
        game = env.game
        mask = env.legal_masks(states)
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
        answers = [wrap_answer(a) for a in game.index_answers(cand)]
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
