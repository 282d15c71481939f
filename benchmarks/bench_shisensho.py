"""Shisen-Sho throughput: batched legal-pair enumeration vs the reference path search run pair by
pair; the batched env vs a naive per-env loop that draws every frame with Pillow; the state
sampler (no drawing); counterfactual scoring; dealing with and without the solvable guarantee.

Run: python benchmarks/bench_shisensho.py   (prints a Markdown table; ratios are measured side by
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
from reference import shisensho_ref as ref  # noqa: E402
from vlmgym.core.tiles import COLORS, GRID_COLOR, TILE_COLOR, _draw_shape  # noqa: E402
from vlmgym.games.shisensho import PAPER_SHAPES, legal_pairs  # noqa: E402

BATCH = 64
STEPS = 5
PAPER = "VLMGym/Shisensho-v0"  # 6x6, 9 kinds drawn from 16 colours x 6 shapes
TYPES = [(c, s) for c in COLORS for s in PAPER_SHAPES]
EMPTY = (92, 92, 100)


class NaiveShisenshoEnv:
    """What a straightforward Shisen-Sho env does: a list-of-lists board, the reference
    breadth-first path search for moves and for the legal pairs (which also tell whether the game
    is over), and a fresh Pillow drawing of every tile for every frame."""

    def __init__(self, seed: int, rows: int = 6, cols: int = 6, kinds: int = 9, cell: int = 56):
        self.rng = np.random.default_rng(seed)
        self.rows, self.cols, self.kinds, self.cell = rows, cols, kinds, cell
        self.deal()

    def deal(self) -> None:
        while True:
            kinds = self.rng.choice(len(TYPES), size=self.kinds, replace=False).tolist()
            tiles = [k for k in kinds for _ in range(4)]
            self.rng.shuffle(tiles)
            self.board = [tiles[r * self.cols:(r + 1) * self.cols] for r in range(self.rows)]
            self.pairs = ref.legal_pairs(self.board)
            if self.pairs:
                return

    def mask(self) -> np.ndarray:
        n = self.rows * self.cols
        m = np.zeros(n * n, dtype=bool)
        for (r1, c1), (r2, c2) in self.pairs:
            a, b = r1 * self.cols + c1, r2 * self.cols + c2
            m[a * n + b] = m[b * n + a] = True
        return m

    def step(self, index: int) -> tuple[np.ndarray, float, np.ndarray, str]:
        n = self.rows * self.cols
        a, b = divmod(index, n)
        p, q = divmod(a, self.cols), divmod(b, self.cols)
        reward = -1.0
        if ref.removable(self.board, p, q):
            reward = 1.0
            self.board = ref.remove(self.board, p, q)
            self.pairs = ref.legal_pairs(self.board)
            if not self.pairs:  # cleared or stuck: a new game
                self.deal()
        text = "\n".join("|".join(" - " if t is None else f" {TYPES[t][0]} {TYPES[t][1]} " for t in row)
                         for row in self.board)
        return self.render(), reward, self.mask(), text

    def render(self) -> np.ndarray:
        s = self.cell
        gap = max(2, s // 14)
        img = Image.new("RGB", (self.cols * s, self.rows * s), GRID_COLOR)
        draw = ImageDraw.Draw(img)
        for r in range(self.rows):
            for c in range(self.cols):
                x, y = c * s, r * s
                box = (x + gap, y + gap, x + s - 1 - gap, y + s - 1 - gap)
                t = self.board[r][c]
                if t is None:
                    draw.rectangle(box, fill=EMPTY)
                    continue
                draw.rounded_rectangle(box, radius=max(2, s // 12), fill=TILE_COLOR)
                color, shape = TYPES[t]
                m = s * 0.2
                _draw_shape(draw, shape, (x + m, y + m, x + s - m, y + s - m), COLORS[color])
        return np.asarray(img)


def policy(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half the envs play a legal pair, the others a uniformly random pair (almost always illegal)."""
    pick = np.argmax(rng.random(masks.shape) * masks, axis=1)
    random = rng.integers(0, masks.shape[1], size=len(masks))
    return np.where(rng.random(len(masks)) < 0.5, pick, random)


def mid_game_boards(n: int, seed: int = 0) -> np.ndarray:
    """Tile classes of ``n`` random 12x12 boards (36 kinds) after 18 to 54 random removals."""
    vec = gym.make_vec("VLMGym/ShisenshoMoreTiles-v0", num_envs=n, obs_mode="text",
                       autoreset_mode="disabled")
    vec.reset(seed=seed)
    game, batch = vec.game, vec.engine.batch
    rng = np.random.default_rng(seed)
    target = rng.integers(18, 55, size=n)
    for k in range(54):
        mask = game.legal_mask(batch)
        act = game.decode(np.argmax(rng.random(mask.shape) * mask, axis=1))
        game.apply(batch, act, (k < target) & mask.any(axis=1))
    return game.tile_classes(batch["board"])


def main() -> list[tuple[str, str, str]]:
    # 1. legal-pair enumeration on random mid-game 12x12 boards
    boards = mid_game_boards(BATCH)
    lists = [[[None if v < 0 else int(v) for v in row] for row in b] for b in boards.tolist()]
    b, p1, p2 = legal_pairs(boards)
    for i in range(BATCH):  # same answer as the reference before timing anything
        got = {(divmod(int(x), 12), divmod(int(y), 12)) for x, y in zip(p1[b == i], p2[b == i])}
        assert got == ref.legal_pairs(lists[i])
    one = boards[:1]
    e = side_by_side({"batched": lambda: legal_pairs(boards),
                      "single": lambda: legal_pairs(one),
                      "reference": lambda: [ref.legal_pairs(x) for x in lists]}, repeat=5)
    per_board_ref = e["reference"] / BATCH
    tiles_left = float((boards >= 0).sum(axis=(1, 2)).mean())

    # 2. env steps with image observations, batch 64, paper preset
    vec = gym.make_vec(PAPER, num_envs=BATCH, action_mode="index")
    _, info = vec.reset(seed=0)
    vec_text = gym.make_vec(PAPER, num_envs=BATCH)
    vec_text.reset(seed=0)
    game = vec.game
    naive = [NaiveShisenshoEnv(i) for i in range(BATCH)]
    state = {"index_mask": info["action_mask"], "naive_mask": np.array([e.mask() for e in naive])}

    def run_index() -> None:
        rng = np.random.default_rng(1)
        for _ in range(STEPS):
            _, _, _, _, inf = vec.step(policy(state["index_mask"], rng))
            state["index_mask"] = inf["action_mask"]

    def run_text() -> None:
        rng = np.random.default_rng(1)
        for _ in range(STEPS):
            acts = game.decode(policy(vec_text.legal_masks(), rng))
            vec_text.step([f"<answer>({a}, {b}) ({c}, {d})</answer>" for a, b, c, d in acts.tolist()])

    def run_naive() -> None:
        rng = np.random.default_rng(1)
        for _ in range(STEPS):
            acts = policy(state["naive_mask"], rng)
            state["naive_mask"] = np.array([env.step(int(a))[2] for env, a in zip(naive, acts)])

    # the same index run with text observations: the rules and the engine without any pictures
    vec_noimg = gym.make_vec(PAPER, num_envs=BATCH, action_mode="index", obs_mode="text")
    _, info_noimg = vec_noimg.reset(seed=0)
    state["noimg_mask"] = info_noimg["action_mask"]

    def run_noimg() -> None:
        rng = np.random.default_rng(1)
        for _ in range(STEPS):
            _, _, _, _, inf = vec_noimg.step(policy(state["noimg_mask"], rng))
            state["noimg_mask"] = inf["action_mask"]

    t = side_by_side({"index": run_index, "text": run_text, "naive": run_naive, "noimg": run_noimg},
                     repeat=11)
    sps = {k: STEPS * BATCH / v for k, v in t.items()}
    # composition: whole frames (into a buffer) and as a step does it (a recycled buffer brought up
    # to date: here one pair removed per board), against np.copyto of the same bytes
    r = vec.engine.renderer
    ids = game.sprite_ids(vec.engine.batch).copy()
    one_pair_gone = ids.copy()
    one_pair_gone[:, 0, :2] = 0
    out = np.empty((BATCH, r.height, r.width, 3), np.uint8)
    src = np.ones_like(out)
    flip = [ids, one_pair_gone]

    def compose_step() -> None:  # alternate boards so every call redraws the removed pair
        flip.reverse()
        r.compose(flip[0])

    c = side_by_side({"compose": lambda: r.compose(ids, out=out), "step": compose_step,
                      "copyto": lambda: np.copyto(out, src)}, repeat=7, number=5)
    naive_frame = side_by_side({"draw": naive[0].render}, repeat=7, number=5)["draw"]

    # 3. the paper's state sampler: 250 random steps, then one observation
    sampler = gym.make_vec(PAPER, num_envs=128)
    sampler.reset(seed=0)
    calls = sampler.frames_composed
    sampler.random_steps(250)
    frames_during_steps = sampler.frames_composed - calls
    sm = side_by_side({"steps": lambda: sampler.random_steps(250), "observe": lambda: sampler.observe()},
                      repeat=3)

    # 4. counterfactual scoring of 128 states x 5 answers vs plain batched steps
    text_vec = gym.make_vec(PAPER, num_envs=128, obs_mode="text")
    text_vec.reset(seed=1)
    text_vec.random_steps(50)
    states = [s for s in text_vec.get_states() for _ in range(5)]
    masks = np.repeat(text_vec.legal_masks(), 5, axis=0)
    acts = game.decode(policy(masks, np.random.default_rng(2)))
    answers = [f"<answer>({a}, {b}) ({c}, {d})</answer>" for a, b, c, d in acts.tolist()]
    scoring = scoring_rows(PAPER, text_vec, states, answers, repeat=5)

    # 5. dealing: uniform (the paper) and with the clearable guarantee
    deal_envs = {
        "6x6": gym.make_vec(PAPER, num_envs=BATCH, obs_mode="text"),
        "6x6 solvable": gym.make_vec(PAPER, num_envs=BATCH, obs_mode="text", solvable=True),
        "12x12": gym.make_vec("VLMGym/ShisenshoMoreTiles-v0", num_envs=BATCH, obs_mode="text"),
        "12x12 solvable": gym.make_vec("VLMGym/ShisenshoMoreTiles-v0", num_envs=BATCH, obs_mode="text",
                                       solvable=True),
    }
    d = side_by_side({k: (lambda v=v: v.reset(seed=3)) for k, v in deal_envs.items()}, repeat=2)

    rows = [
        (f"legal pairs of {BATCH} mid-game 12x12 boards ({tiles_left:.0f} tiles on average), batched",
         f"{e['batched'] * 1e3:.2f} ms", ""),
        ("legal pairs of one such board (a batch of one)", f"{e['single'] * 1e3:.3f} ms", ""),
        ("reference path search pair by pair, per board", f"{per_board_ref * 1e3:.1f} ms", ""),
        ("**enumeration speed-up, batched / reference (per board)**",
         f"**{e['reference'] / e['batched']:,.0f}x**", ">= 20x"),
        ("enumeration speed-up, one board / reference", f"{per_board_ref / e['single']:,.0f}x", ">= 20x"),
        (f"env steps/s, batch {BATCH}, image obs, index actions (with action masks)",
         f"{sps['index']:,.0f}", ""),
        (f"env steps/s, batch {BATCH}, image obs, text answers", f"{sps['text']:,.0f}", ""),
        ("naive per-env loop with Pillow drawing, steps/s", f"{sps['naive']:,.0f}", ""),
        ("**speed-up, index actions / naive**", f"**{sps['index'] / sps['naive']:.1f}x**", ">= 20x"),
        ("speed-up, text answers / naive", f"{sps['text'] / sps['naive']:.1f}x", ">= 20x"),
        (f"env steps/s, batch {BATCH}, text obs (no pictures), index actions", f"{sps['noimg']:,.0f}", ""),
        (f"compose {BATCH} whole frames ({out.nbytes / 1e6:.1f} MB)",
         f"{c['compose'] * 1e3:.2f} ms ({c['compose'] / BATCH * 1e6:.0f} us per frame)", ""),
        ("update a recycled buffer after one pair removed per board (as a step does)",
         f"{c['step'] * 1e3:.2f} ms ({c['step'] / BATCH * 1e6:.0f} us per frame)", ""),
        ("np.copyto of the same bytes", f"{c['copyto'] * 1e3:.2f} ms", ""),
        ("naive: one frame drawn with Pillow", f"{naive_frame * 1e6:.0f} us", ""),
        ("frames composed during 250 sampler steps (128 envs)", f"{frames_during_steps}", "0"),
        ("250 random steps of 128 envs (no drawing)", f"{sm['steps'] * 1e3:.0f} ms", ""),
        ("then one observation of the 128 envs (images + text)", f"{sm['observe'] * 1e3:.1f} ms", ""),
        *scoring,
    ]
    rows += [(f"reset (deal) of {BATCH} envs, {k}", f"{v * 1e3:,.1f} ms", "") for k, v in d.items()]
    print(table("Shisen-Sho (benchmarks/bench_shisensho.py)", rows))
    return rows


if __name__ == "__main__":
    main()
