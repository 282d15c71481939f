"""Evaluate your own policy with the harness: a function from a batch of queries to answer texts.

This policy reads the board from the *text* observation (``obs_mode=image+text``), writes it back
in the paper's ``<perception>`` block (so perception accuracy is 1.0), and answers 2048 with a
one-move greedy search on the parsed numbers. A real model would look at ``q.image`` (or send
``q.png()`` to an API) instead. Run it either way:

    python examples/eval_custom_policy.py
    vlmgym eval VLMGym/2048-v0 obs_mode=image+text --policy examples/eval_custom_policy.py:greedy_from_text \
        --runs 4 --steps 50
"""

from __future__ import annotations

import numpy as np

from vlmgym.eval import EvalConfig, FunctionPolicy, Query, evaluate


def _parse_board(text: str) -> np.ndarray:
    """Board text (' 2 | - | 4 | - ' per row) -> exponents (0 = empty)."""
    rows = [[c.strip() for c in line.split("|")] for line in text.splitlines()]
    return np.array([[0 if c == "-" else int(c).bit_length() - 1 for c in row] for row in rows])


def _slide_left(row: list[int]) -> tuple[list[int], int]:
    tiles, out, gain, i = [t for t in row if t], [], 0, 0
    while i < len(tiles):
        if i + 1 < len(tiles) and tiles[i] == tiles[i + 1]:
            out.append(tiles[i] + 1)
            gain += 2 ** (tiles[i] + 1)
            i += 2
        else:
            out.append(tiles[i])
            i += 1
    return out + [0] * (len(row) - len(out)), gain


def _best_move(board: np.ndarray) -> int:
    """The move (0 up, 1 right, 2 down, 3 left) with the largest merge gain that changes the board."""
    best, best_key = 0, None
    for move, turned in ((3, board), (1, board[:, ::-1]), (0, board.T), (2, board.T[:, ::-1])):
        slid = [_slide_left(list(r)) for r in turned]
        changed = any(list(r) != s for r, (s, _) in zip(turned, slid))
        key = (changed, sum(g for _, g in slid))
        if best_key is None or key > best_key:
            best, best_key = move, key
    return best


def greedy_from_text(queries: list[Query]) -> list[str]:
    answers = []
    for q in queries:
        if q.text is None:
            raise ValueError("greedy_from_text reads the board text: evaluate with obs_mode=image+text")
        move = _best_move(_parse_board(q.text))
        answers.append(f"<perception>\n{q.text}\n</perception><think>greedy merge</think>"
                       f"<answer>{move}</answer>")
    return answers


if __name__ == "__main__":
    config = EvalConfig(["VLMGym/2048-v0"], runs=4, steps=50, env_kwargs={"obs_mode": "image+text"},
                        video=False)  # out=None: a new folder under runs/eval/
    result = evaluate(config, policy=FunctionPolicy(greedy_from_text, "greedy_from_text"))
    game = result.summary["games"]["VLMGym/2048-v0"]
    print(f"score gained in 50 moves: {game['stats']['metric']['mean']:.1f} "
          f"(perception exact: {game['pooled']['perception_exact_rate']:.2f}); see {result.out}/summary.md")
