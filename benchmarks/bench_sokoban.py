"""Sokoban throughput: batched legal-move enumeration vs the readable reference room by room; the
batched env vs a naive per-env loop that draws every frame with Pillow; room generation; the exact
solver; counterfactual scoring.

Run: python benchmarks/bench_sokoban.py   (prints a Markdown table; ratios are measured side by side
in one process)
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
from reference import sokoban_ref as ref  # noqa: E402
from vlmgym.games import sokoban as sok  # noqa: E402

BATCH = 64
STEPS = 20  # long enough that every run pays its share of rooms ending and being dealt again
ENV_ID = "VLMGym/Sokoban-v0"  # 6x6, one box: RAGEN's and VAGEN's room
DIRECTIONS = ("up", "right", "down", "left")


class NaiveSokobanEnv:
    """What a straightforward Sokoban env does: a list-of-lists room, the reference rules for the
    move, the legal moves and the end of the game, a new room from the reference generator (the
    same reverse play, in plain Python) when a game ends, and a fresh Pillow drawing of every cell
    (the same pictures as vlmgym's) for every frame."""

    def __init__(self, seed: int, rows: int = 6, cols: int = 6, boxes: int = 1, cell: int = 56):
        self.stream = ref.Stream(seed)
        self.rows, self.cols, self.boxes, self.cell = rows, cols, boxes, cell
        self.steps = 0
        self.room = self.deal()

    def deal(self) -> list[list[int]]:
        self.steps = 0
        return ref.deal(self.stream, self.rows, self.cols, self.boxes, 30)

    def step(self, d: int) -> tuple[np.ndarray, float, list[bool], str]:
        out = ref.move(self.room, d)
        self.room, self.steps = out.room, self.steps + 1
        if ref.end_reason(self.room) is not None or self.steps >= 100:
            self.room = self.deal()
        text = ref.board_text(self.room)
        return self.render(), 1.0 if out.legal else -1.0, ref.legal_moves(self.room), text

    def render(self) -> np.ndarray:
        s = self.cell
        img = Image.new("RGB", (self.cols * s, self.rows * s))
        draw = ImageDraw.Draw(img)
        for r, row in enumerate(self.room):
            for c, code in enumerate(row):
                sok.draw_cell(draw, code, c * s, r * s, s)
        return np.asarray(img)


def policy(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half the envs play a uniformly random legal move, the others a uniformly random direction."""
    pick = np.argmax(rng.random(masks.shape) * masks, axis=1)
    return np.where(rng.random(len(masks)) < 0.5, pick, rng.integers(0, 4, size=len(masks)))


def main() -> list[tuple[str, str, str]]:
    # 1. legal moves of 64 rooms a few moves into their games
    vec = gym.make_vec(ENV_ID, num_envs=BATCH, action_mode="index")
    obs, info = vec.reset(seed=0)
    vec.random_steps(3)
    states = vec.get_states()
    boards = np.stack([s["board"] for s in states])
    batch = {"board": boards}
    lists = boards.tolist()
    game = vec.game
    assert game.legal_mask(batch).tolist() == [ref.legal_moves(b) for b in lists]
    e = side_by_side({"batched": lambda: game.legal_mask(batch),
                      "reference": lambda: [ref.legal_moves(b) for b in lists]}, repeat=7, number=3)

    # 2. env steps with image observations, batch 64 (every finished room is replaced)
    vec_text = gym.make_vec(ENV_ID, num_envs=BATCH)
    vec_text.reset(seed=0)
    naive = [NaiveSokobanEnv(i) for i in range(BATCH)]
    state = {"index_mask": vec.legal_masks(), "naive_mask": np.array([ref.legal_moves(n.room) for n in naive])}

    def run_index():
        rng = np.random.default_rng(1)
        for _ in range(STEPS):
            _, _, _, _, inf = vec.step(policy(state["index_mask"], rng))
            state["index_mask"] = inf["action_mask"]

    def run_text():
        rng = np.random.default_rng(1)
        for _ in range(STEPS):
            acts = policy(vec_text.legal_masks(), rng)
            vec_text.step([f"<answer>{DIRECTIONS[a]}</answer>" for a in acts.tolist()])

    def run_naive():
        rng = np.random.default_rng(1)
        for _ in range(STEPS):
            acts = policy(state["naive_mask"], rng)
            state["naive_mask"] = np.array([env.step(int(a))[2] for env, a in zip(naive, acts)])

    t = side_by_side({"index": run_index, "text": run_text, "naive": run_naive}, repeat=3)
    sps = {k: STEPS * BATCH / v for k, v in t.items()}
    ended = {}
    for name, vec_ in (("index", vec),):  # how often rooms end under this policy (deals per step)
        vec_.reset(seed=4)
        rng = np.random.default_rng(4)
        finished = 0
        for _ in range(100):
            _, _, term, trunc, inf = vec_.step(policy(vec_.legal_masks(), rng))
            finished += int((term | trunc).sum())
        ended[name] = finished / 100

    # what the naive loop spends its time on, per env step
    env0 = naive[0]
    parts = side_by_side({"frame": env0.render,
                          "rules": lambda: (ref.move(env0.room, 0), ref.legal_moves(env0.room),
                                            ref.end_reason(env0.room), ref.board_text(env0.room))}, repeat=5, number=20)

    # 3. room generation: a reset of 64 envs, and one env alone (the per-call cost of a deal)
    one = gym.make_vec(ENV_ID, num_envs=1, obs_mode="text")
    big = gym.make_vec("VLMGym/Sokoban8x8-v0", num_envs=BATCH, obs_mode="text")
    stream = ref.Stream(7)
    d = side_by_side({"reset64": lambda: vec.reset(seed=3), "reset1": lambda: one.reset(seed=3),
                      "reset64_8x8": lambda: big.reset(seed=3),
                      "reference": lambda: ref.deal(stream, 6, 6, 1, 30)}, repeat=5)

    # 4. the exact solver, fresh (no cache) and along its own plan (cached)
    solve = {}
    for env_id in ("VLMGym/Sokoban-v0", "VLMGym/Sokoban7x7-v0", "VLMGym/Sokoban8x8-v0"):
        v = gym.make_vec(env_id, num_envs=32, obs_mode="text")
        v.reset(seed=9)
        rooms = [s["board"] for s in v.get_states()]

        def fresh(rooms=rooms) -> None:
            sok._NEXT.clear()
            sok._STATUS.clear()
            for room in rooms:
                sok.plan(room)

        solve[env_id] = side_by_side({"fresh": fresh, "cached": lambda rooms=rooms: [sok.plan(r) for r in rooms]},
                                     repeat=3)
        v.close()

    # 5. counterfactual scoring of 128 fresh states x 5 answers vs plain batched steps
    sampler = gym.make_vec(ENV_ID, num_envs=128, obs_mode="text")
    sampler.reset(seed=1)
    states = [s for s in sampler.get_states() for _ in range(5)]
    acts = policy(np.repeat(sampler.legal_masks(), 5, axis=0), np.random.default_rng(2))
    answers = [f"<answer>{DIRECTIONS[a]}</answer>" for a in acts.tolist()]
    scoring = scoring_rows(ENV_ID, sampler, states, answers)

    rows = [
        (f"legal moves of {BATCH} rooms, batched", f"{e['batched'] * 1e3:.3f} ms", ""),
        (f"legal moves of {BATCH} rooms, reference room by room", f"{e['reference'] * 1e3:.2f} ms", ""),
        ("**legal-move speed-up, batched / reference**", f"**{e['reference'] / e['batched']:.0f}x**", ">= 20x"),
        (f"env steps/s, batch {BATCH}, image obs, index actions", f"{sps['index']:,.0f}", ""),
        (f"env steps/s, batch {BATCH}, image obs, text answers", f"{sps['text']:,.0f}", ""),
        ("naive per-env loop with Pillow drawing, steps/s", f"{sps['naive']:,.0f}", ""),
        ("naive: one frame drawn with Pillow / the rules of one step", f"{parts['frame'] * 1e3:.2f} ms / "
         f"{parts['rules'] * 1e3:.3f} ms", ""),
        ("**speed-up, index actions / naive**", f"**{sps['index'] / sps['naive']:.1f}x**", ">= 20x"),
        ("speed-up, text answers / naive", f"{sps['text'] / sps['naive']:.1f}x", ">= 20x"),
        (f"rooms ended and dealt again per step of {BATCH} envs (this policy)", f"{ended['index']:.1f}", ""),
        (f"reset (deal) of {BATCH} envs, 6x6 with 1 box", f"{d['reset64'] * 1e3:.1f} ms", ""),
        (f"reset (deal) of {BATCH} envs, 8x8 with 3 boxes", f"{d['reset64_8x8'] * 1e3:.1f} ms", ""),
        ("reset (deal) of 1 env, 6x6", f"{d['reset1'] * 1e3:.1f} ms", ""),
        ("reference generator, one 6x6 room", f"{d['reference'] * 1e3:.2f} ms", ""),
        *[(f"exact solver, one {k.split('/')[1][:-3]} room: fresh / cached", f"{v['fresh'] / 32 * 1e3:.2f} ms / "
           f"{v['cached'] / 32 * 1e3:.3f} ms", "") for k, v in solve.items()],
        *scoring,
    ]
    print(table("Sokoban (benchmarks/bench_sokoban.py)", rows))
    return rows


if __name__ == "__main__":
    main()
