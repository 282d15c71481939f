"""Minesweeper throughput: batched legal-move enumeration vs the readable reference board by board; the
batched env vs a naive per-env loop that draws every frame with Pillow; the deal; the solver;
counterfactual scoring.

Run: python benchmarks/bench_minesweeper.py   (prints a Markdown table; ratios are measured side by
side in one process)
"""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
import vlmgym  # noqa: E402,F401
from common import scoring_rows, side_by_side, table  # noqa: E402
from reference import minesweeper_ref as ref  # noqa: E402
from vlmgym.games import minesweeper as ms  # noqa: E402

BATCH = 64
STEPS = 20  # long enough that every run pays its share of boards ending and being dealt again
ENV_ID = "VLMGym/Minesweeper-v0"  # 8x8, 10 mines


class NaiveMinesweeperEnv:
    """What a straightforward Minesweeper env does: a list-of-lists board, the reference rules for the
    move (flood fill by breadth-first search), the legal moves and the end of the game, a new board
    from the reference deal when a game ends, the board text, and a fresh Pillow drawing of every
    cell (the same pictures as vlmgym's) for every frame."""

    def __init__(self, seed: int, rows: int = 8, cols: int = 8, mines: int = 10, cell: int = 56):
        self.stream = ref.Stream(seed)
        self.rows, self.cols, self.mines, self.cell = rows, cols, mines, cell
        self.steps = 0
        self.board = self.deal()

    def deal(self) -> list[list[int]]:
        self.steps = 0
        return ref.deal(self.stream, self.rows, self.cols, self.mines)

    def step(self, index: int) -> tuple[np.ndarray, float, list[bool], str]:
        verb, cell = divmod(index, self.rows * self.cols)
        out = ref.step(self.board, verb, *divmod(cell, self.cols), self.stream)
        self.board, self.steps = out.board, self.steps + 1
        if ref.end_reason(self.board) is not None or self.steps >= 100:
            self.board = self.deal()
        text = ref.board_text(self.board)
        return self.render(), 1.0 if out.success else -1.0, ref.legal_actions(self.board), text

    def render(self) -> np.ndarray:
        s = self.cell
        p = ref.parts(self.board)
        img = Image.new("RGB", (self.cols * s, self.rows * s))
        draw = ImageDraw.Draw(img)
        for r in range(self.rows):
            for c in range(self.cols):
                if (r, c) in p.opened:
                    k = ms.EXPLODED_ID if (r, c) in p.mines else ref.number(p, (r, c))
                else:
                    k = ms.FLAG_ID if (r, c) in p.flags else ms.HIDDEN_ID
                ms.draw_cell(draw, k, c * s, r * s, s)
        return np.asarray(img)


def policy(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half the envs play a uniformly random legal action, the others a uniformly random one."""
    pick = np.argmax(rng.random(masks.shape) * masks, axis=1)
    return np.where(rng.random(len(masks)) < 0.5, pick, rng.integers(0, masks.shape[1], size=len(masks)))


def main() -> list[tuple[str, str, str]]:
    # 1. legal moves of 64 boards a few actions into their games
    vec = gym.make_vec(ENV_ID, num_envs=BATCH, action_mode="index")
    vec.reset(seed=0)
    vec.random_steps(4)
    states = vec.get_states()
    boards = np.stack([s["board"] for s in states])
    batch = {"board": boards}
    lists = boards.tolist()
    game = vec.game
    assert game.legal_mask(batch).tolist() == [ref.legal_actions(b) for b in lists]
    e = side_by_side({"batched": lambda: game.legal_mask(batch),
                      "reference": lambda: [ref.legal_actions(b) for b in lists]}, repeat=7, number=3)

    # 2. env steps with image observations, batch 64 (every finished board is dealt again)
    vec_text = gym.make_vec(ENV_ID, num_envs=BATCH)
    vec_text.reset(seed=0)
    naive = [NaiveMinesweeperEnv(i) for i in range(BATCH)]
    state = {"index_mask": vec.legal_masks(), "naive_mask": np.array([ref.legal_actions(n.board) for n in naive])}

    def run_index():
        rng = np.random.default_rng(1)
        for _ in range(STEPS):
            _, _, _, _, inf = vec.step(policy(state["index_mask"], rng))
            state["index_mask"] = inf["action_mask"]

    def run_text():
        rng = np.random.default_rng(1)
        for _ in range(STEPS):
            acts = policy(vec_text.legal_masks(), rng)
            vec_text.step([f"<answer>{t}</answer>" for t in game.index_answers(acts)])

    def run_naive():
        rng = np.random.default_rng(1)
        for _ in range(STEPS):
            acts = policy(state["naive_mask"], rng)
            state["naive_mask"] = np.array([env.step(int(a))[2] for env, a in zip(naive, acts)])

    t = side_by_side({"index": run_index, "text": run_text, "naive": run_naive}, repeat=3)
    sps = {k: STEPS * BATCH / v for k, v in t.items()}
    vec.reset(seed=4)
    rng = np.random.default_rng(4)
    finished = 0
    for _ in range(100):  # how often boards end under this policy (deals per step)
        _, _, term, trunc, _ = vec.step(policy(vec.legal_masks(), rng))
        finished += int((term | trunc).sum())
    ended = finished / 100

    # what the naive loop spends its time on, per env step
    env0 = naive[0]
    parts = side_by_side({"frame": env0.render,
                          "rules": lambda: (ref.step(env0.board, 0, 3, 3, ref.Stream(1)), ref.legal_actions(env0.board),
                                            ref.end_reason(env0.board), ref.board_text(env0.board))},
                         repeat=5, number=20)

    # 3. the deal: a reset of 64 envs and of one
    one = gym.make_vec(ENV_ID, num_envs=1, obs_mode="text")
    d = side_by_side({"reset64": lambda: vec.reset(seed=3), "reset1": lambda: one.reset(seed=3)}, repeat=5)

    # 4. the solver on positions a few oracle reveals in (propagation, enumeration, guesses)
    solve = {}
    for env_id in ("VLMGym/Minesweeper-v0", "VLMGym/Minesweeper9x9-v0", "VLMGym/Minesweeper16x16-v0"):
        v = gym.make_vec(env_id, num_envs=32, obs_mode="text", action_mode="index", autoreset_mode="disabled")
        v.reset(seed=9)
        for _ in range(3):
            v.step(np.maximum(v.solve(v.get_states()), 0))
        ss = v.get_states()
        solve[env_id] = side_by_side({"solve": lambda v=v, ss=ss: v.solve(ss)}, repeat=3)["solve"]
        v.close()

    # 5. counterfactual scoring of 128 sampled states x 5 answers vs plain batched steps
    sampler = gym.make_vec(ENV_ID, num_envs=128, obs_mode="text")
    sampler.reset(seed=1)
    sampler.random_steps(4)
    states = [s for s in sampler.get_states() for _ in range(5)]
    acts = policy(np.repeat(sampler.legal_masks(), 5, axis=0), np.random.default_rng(2))
    answers = [f"<answer>{t}</answer>" for t in game.index_answers(acts)]
    scoring = scoring_rows(ENV_ID, sampler, states, answers)

    rows = [
        (f"legal moves of {BATCH} boards, batched", f"{e['batched'] * 1e3:.3f} ms", ""),
        (f"legal moves of {BATCH} boards, reference board by board", f"{e['reference'] * 1e3:.2f} ms", ""),
        ("**legal-move speed-up, batched / reference**", f"**{e['reference'] / e['batched']:.0f}x**", ">= 20x"),
        (f"env steps/s, batch {BATCH}, image obs, index actions", f"{sps['index']:,.0f}", ""),
        (f"env steps/s, batch {BATCH}, image obs, text answers", f"{sps['text']:,.0f}", ""),
        ("naive per-env loop with Pillow drawing, steps/s", f"{sps['naive']:,.0f}", ""),
        ("naive: one frame drawn with Pillow / the rules of one step", f"{parts['frame'] * 1e3:.2f} ms / "
         f"{parts['rules'] * 1e3:.3f} ms", ""),
        ("**speed-up, index actions / naive**", f"**{sps['index'] / sps['naive']:.1f}x**", ">= 20x"),
        ("speed-up, text answers / naive", f"{sps['text'] / sps['naive']:.1f}x", ">= 20x"),
        (f"boards ended and dealt again per step of {BATCH} envs (this policy)", f"{ended:.1f}", ""),
        (f"reset (deal) of {BATCH} envs / of 1 env", f"{d['reset64'] * 1e3:.2f} ms / {d['reset1'] * 1e3:.2f} ms", ""),
        *[(f"solver, one {k.split('/')[1][:-3]} board three reveals in", f"{v / 32 * 1e3:.2f} ms", "")
          for k, v in solve.items()],
        *scoring,
    ]
    print(table("Minesweeper (benchmarks/bench_minesweeper.py)", rows))
    return rows


if __name__ == "__main__":
    main()
